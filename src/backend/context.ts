import type { BackendKeys } from './datadir.js';
import type { Catalog } from './db/catalog.js';
import type { Database, Queryable } from './db/types.js';
import type { Caller } from './caller.js';
import type { TokenService } from './auth/tokens.js';

/** What every route module gets: the database, its catalogue, the keys, and how to run as a caller. */
export interface BackendContext {
  db: Database;
  catalog: Catalog;
  keys: BackendKeys;
  tokens: TokenService;
  /** Runs fn in one transaction as the caller's database role, with its JWT claims visible to SQL. */
  runAs<T>(caller: Caller, fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export function runAsFactory(db: Database) {
  return <T>(caller: Caller, fn: (tx: Queryable) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      // set_config(..., true) is SET LOCAL: it ends with the transaction, so nothing leaks to the next request
      await tx.query("SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [caller.role, JSON.stringify(caller.claims)]);
      return fn(tx);
    });
}
