import type { BackendKeys } from './datadir.js';
import type { Catalog } from './db/catalog.js';
import type { CallerTxOptions } from './db/boundary.js';
import type { CallerTx, Database } from './db/types.js';
import type { Caller } from './caller.js';
import type { TokenService } from './auth/tokens.js';

/** What every route module gets: the database, its catalogue, the keys, and how to run as a caller. */
export interface BackendContext {
  db: Database;
  catalog: Catalog;
  keys: BackendKeys;
  tokens: TokenService;
  /**
   * Runs fn in one transaction as the caller's database role, with its JWT claims visible to SQL,
   * every statement inside the role's security boundary (db/boundary.ts).
   */
  runAs<T>(caller: Caller, fn: (tx: CallerTx) => Promise<T>, opts?: CallerTxOptions): Promise<T>;
}

export function runAsFactory(db: Database) {
  return <T>(caller: Caller, fn: (tx: CallerTx) => Promise<T>, opts?: CallerTxOptions): Promise<T> => db.asCaller({ role: caller.role, claims: caller.claims }, fn, opts);
}
