import type { Queryable } from '../db/types.js';
import { idempotentDdl, isoText as iso } from '../db/internal-schema.js';
import { SecretCipher } from './cipher.js';

/**
 * The project's secrets, for its functions. In a schema of its own that no request role is granted
 * (not anon, authenticated or project_admin: run-sql cannot read it), and encrypted (cipher.ts).
 * Idempotent, run at every start.
 */
export const SECRETS_SCHEMA_SQL = idempotentDdl(`
  CREATE SCHEMA IF NOT EXISTS secrets;
  CREATE TABLE IF NOT EXISTS secrets.values (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key text NOT NULL UNIQUE,
    sealed text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  );`);

/** What InsForge lists of a secret (never its value). */
export interface SecretSummary {
  id: string;
  key: string;
  isActive: boolean;
  isReserved: boolean;
  lastUsedAt: string | null;
  expiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** InsForge's rule for names (they become environment variables). */
export const SECRET_NAME = /^[A-Z0-9_]+$/;

const SUMMARY = `id, key, true AS "isActive", false AS "isReserved", NULL AS "lastUsedAt", NULL AS "expiresAt", ${iso('created_at')} AS "createdAt", ${iso('updated_at')} AS "updatedAt"`;

export class SecretStore {
  private readonly cipher: SecretCipher;

  constructor(
    private readonly db: Queryable,
    encryptionKey: string,
  ) {
    this.cipher = new SecretCipher(encryptionKey);
  }

  async list(): Promise<SecretSummary[]> {
    return (await this.db.query<SecretSummary>(`SELECT ${SUMMARY} FROM secrets.values ORDER BY key`)).rows;
  }

  /** Undefined when the name is taken. */
  async create(key: string, value: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ id: string }>('INSERT INTO secrets.values (key, sealed) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING id', [key, this.cipher.seal(key, value)]);
    return rows[0]?.id;
  }

  async update(key: string, value: string): Promise<boolean> {
    return (await this.db.query('UPDATE secrets.values SET sealed = $2, updated_at = now() WHERE key = $1', [key, this.cipher.seal(key, value)])).rowCount > 0;
  }

  async remove(key: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM secrets.values WHERE key = $1', [key])).rowCount > 0;
  }

  /** Every secret's value by name: a function's environment. */
  async environment(): Promise<Record<string, string>> {
    const { rows } = await this.db.query<{ key: string; sealed: string }>('SELECT key, sealed FROM secrets.values');
    return Object.fromEntries(rows.map((r) => [r.key, this.cipher.open(r.key, r.sealed)]));
  }
}
