/**
 * Every MCP tool against the real InsForge backend (../shared/insforge: InsForge 2.3.1 with its
 * PostgREST stand-in and AI stand-in), through the built bin over stdio with --dialect auto.
 * Skipped, with one line on how to run it, when no real backend is configured.
 */
import { beforeAll, describe } from 'vitest';
import { defineWalk, type WalkTarget } from './walk.js';
import { REAL, RUN, realApi, realEnv, realSql } from './support.js';

/** Whether this backend's PostgREST applies `Prefer: missing=default` (the stand-in does not). */
async function appliesMissingDefault(): Promise<boolean> {
  const table = `probe_${RUN}`;
  await realSql(`create table ${table} (a int, b int default 7)`);
  try {
    const res = await realApi(`/api/database/records/${table}?columns=a,b`, { method: 'POST', json: [{ a: 1 }], headers: { prefer: 'return=representation,missing=default' } });
    return res.json?.[0]?.b === 7;
  } finally {
    await realSql(`drop table ${table}`);
  }
}

/** Whether storage.objects has row-level security on, so that users read only what they own. */
async function privateFilesOwnerOnly(): Promise<boolean> {
  const { rows } = await realSql("select relrowsecurity as on from pg_class where oid = 'storage.objects'::regclass");
  return rows[0]?.on === true;
}

describe.skipIf(!REAL)('every tool against the real InsForge backend', () => {
  let target: WalkTarget;
  beforeAll(async () => {
    const health = await realApi('/api/health');
    target = { url: REAL!.url, env: (keys) => realEnv(keys), dialectArgs: ['--dialect', 'auto'], dialect: 'insforge-v2', version: health.json.version, missingDefault: await appliesMissingDefault(), privateFilesOwnerOnly: await privateFilesOwnerOnly(), signsPrivateUrls: false, functionLogs: false };
  });
  defineWalk(() => target);
});
