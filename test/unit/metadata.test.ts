import { describe, expect, it } from 'vitest';
import { backendMetadata, tableFrom } from '../../src/client/metadata.js';

/** As InsForge 2.3.1 answered (GET /api/metadata, POST /api/database/advance/export), trimmed. */
const V2_METADATA = { database: { tables: [{ tableName: 'rbm_b', recordCount: 0 }] }, storage: { buckets: [{ name: 'pics', public: true, createdAt: 'x', objectCount: 0 }] }, functions: [{ slug: 'hi', name: 'hi', description: null, status: 'active' }] };
const V2_TABLE = {
  schema: [
    { columnName: 'id', dataType: 'uuid', characterMaximumLength: null, isNullable: 'NO', columnDefault: 'gen_random_uuid()' },
    { columnName: 'my col', dataType: 'integer', characterMaximumLength: null, isNullable: 'NO', columnDefault: null },
    { columnName: 'v', dataType: 'character varying', characterMaximumLength: 20, isNullable: 'YES', columnDefault: null },
  ],
  indexes: [{ indexname: 'rbm_b_pkey', indexdef: 'CREATE UNIQUE INDEX rbm_b_pkey ON public.rbm_b USING btree (id, "my col")', isUnique: true, isPrimary: true }],
  foreignKeys: [{ constraintName: 'rbm_b_a_id_fkey', referenceTable: 'rbm_a', referenceColumns: [{ sourceColumn: 'v', referenceColumn: 'name' }], onDelete: 'CASCADE', onUpdate: 'NO ACTION' }],
  rlsEnabled: true,
  policies: [{ policyname: 'p1', cmd: 'SELECT', roles: '{anon,authenticated}', qual: 'true', withCheck: null }],
  triggers: [],
  rows: [],
};
const V2_EXPORT = {
  format: 'json',
  data: {
    tables: { rbm_b: V2_TABLE },
    functions: [
      { functionName: 'price', functionDef: 'CREATE OR REPLACE FUNCTION public.price(n numeric(10,2), d date DEFAULT now())\n RETURNS numeric\n LANGUAGE sql\nAS $function$ select n $function$\n', kind: 'f' },
      { functionName: 'job', functionDef: 'CREATE OR REPLACE PROCEDURE public.job()\n LANGUAGE sql\nAS $procedure$ select 1 $procedure$\n', kind: 'p' },
    ],
  },
};

describe("InsForge v2's metadata in the embedded backend's shape (D9)", () => {
  it('lists every table from one export, with keys, RLS, policies, SQL functions, buckets and functions', async () => {
    let exports = 0;
    const meta = await backendMetadata(V2_METADATA, async () => (exports++, V2_EXPORT));
    expect(exports).toBe(1);
    expect(meta).toEqual({
      tables: [
        {
          tableName: 'rbm_b',
          columns: [
            { columnName: 'id', type: 'uuid', isNullable: false, defaultValue: 'gen_random_uuid()', isPrimaryKey: true },
            { columnName: 'my col', type: 'integer', isNullable: false, defaultValue: null, isPrimaryKey: true },
            { columnName: 'v', type: 'character varying(20)', isNullable: true, defaultValue: null, isPrimaryKey: false },
          ],
          primaryKey: ['id', 'my col'],
          foreignKeys: [{ constraintName: 'rbm_b_a_id_fkey', columns: ['v'], referenceTable: 'rbm_a', referenceColumns: ['name'], onDelete: 'CASCADE', onUpdate: 'NO ACTION' }],
          rlsEnabled: true,
          policies: [{ policyName: 'p1', command: 'SELECT', roles: ['anon', 'authenticated'], using: 'true', withCheck: null }],
        },
      ],
      sqlFunctions: [{ name: 'price', arguments: 'n numeric(10,2), d date DEFAULT now()', returns: 'numeric' }],
      buckets: [{ name: 'pics', public: true }],
      functions: [{ slug: 'hi', name: 'hi', status: 'active' }],
    });
  });

  it('asks for no export when the tables come with their columns (the embedded backend)', async () => {
    const embedded = { database: { tables: [{ tableName: 't', rlsEnabled: false, columns: [{ columnName: 'id', type: 'integer', isNullable: false, defaultValue: null, isPrimaryKey: true }], primaryKey: ['id'], foreignKeys: [], policies: [] }], functions: [{ name: 'f', arguments: '', returns: 'integer' }] } };
    const meta = await backendMetadata(embedded, () => Promise.reject(new Error('no export expected')));
    expect(meta.tables[0]).toMatchObject({ tableName: 't', primaryKey: ['id'] });
    expect(meta.sqlFunctions).toEqual([{ name: 'f', arguments: '', returns: 'integer' }]);
  });

  it('describes one table from GET /api/metadata/{table}, or says there is none', () => {
    expect(tableFrom('rbm_b', { rbm_b: V2_TABLE })).toMatchObject({ tableName: 'rbm_b', primaryKey: ['id', 'my col'], indexes: [{ indexName: 'rbm_b_pkey', isPrimary: true, isUnique: true }], triggers: [] });
    expect(tableFrom('nope', { nope: { ...V2_TABLE, schema: [] } })).toBeUndefined();
  });
});
