import type { BackendKeys } from './datadir.js';
import type { Catalog } from './db/catalog.js';
import type { CallerTxOptions } from './db/boundary.js';
import type { CallerTx, Database, QueryResult } from './db/types.js';
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
  /** runAs for one statement that returns rows, in one round trip to the database where it can. */
  runOne<R = Record<string, unknown>>(caller: Caller, text: string, values: unknown[]): Promise<QueryResult<R>>;
}

const identity = (caller: Caller) => ({ role: caller.role, claims: caller.claims });

/** The caller-side face of the database, as routes use it. */
export function callerAccess(db: Database): Pick<BackendContext, 'runAs' | 'runOne'> {
  return {
    runAs: (caller, fn, opts) => db.asCaller(identity(caller), fn, opts),
    runOne: (caller, text, values) => db.asCallerOnce(identity(caller), text, values),
  };
}
