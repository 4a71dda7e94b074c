/**
 * The security boundary every request's SQL runs inside.
 *
 * PGlite runs Postgres in single-user mode: its one session belongs to the bootstrap superuser, and
 * neither its `username` option (a plain SET ROLE) nor anything else can change that. A request that
 * only did SET LOCAL ROLE anon could RESET ROLE and be the superuser again — directly in run-sql, or
 * through any function, trigger or DO block an admin planted. So no request SQL runs as a plain
 * statement of the session. Each statement runs inside a SECURITY DEFINER function owned by the
 * caller's role (anon, authenticated, project_admin): inside it Postgres itself refuses SET ROLE,
 * RESET ROLE, set_config('role', …) and SET SESSION AUTHORIZATION ("cannot set parameter … within
 * security-definer function"), for everything that runs nested in it — functions, triggers, DO
 * blocks, dynamic SQL. On Postgres the same boundary applies, and the session itself is a login
 * role that is not a superuser either (postgres.ts).
 *
 * The functions live in a schema no role may use (only the session can call them), so a role cannot
 * name — hence cannot ALTER or replace — the function it runs in. Deferred constraint triggers are
 * fired before the function returns (SET CONSTRAINTS ALL IMMEDIATE), so no user code is left to run
 * at COMMIT, outside the boundary. Session state a statement leaves behind (settings, prepared
 * statements, cursors, LISTEN, advisory locks, temp tables) is discarded after every transaction.
 */
/** The database roles a request may act as. */
export type DbRole = 'anon' | 'authenticated' | 'project_admin';

export const CALLER_ROLES: readonly DbRole[] = ['anon', 'authenticated', 'project_admin'];

/** The boundary function of a role; a fixed identifier, never built from input. */
export const boundaryFunction = (role: DbRole) => {
  if (!CALLER_ROLES.includes(role)) throw new Error(`no security boundary for role ${String(role)}`);
  return `insforge_boundary.run_${role}`;
};

/**
 * How a statement's rows come back: one json value per row (row_to_json), or, for a statement that
 * returns no rows (DDL, DML without RETURNING), one row with `r` null and the affected count.
 * `args` are the statement's parameters as text; they stay untyped (PREPARE infers their types from
 * the statement, as the extended protocol does), so `qty = $1` compares as an integer.
 * `returns_rows` true skips the fallback (a PostgREST statement always returns its outcome row).
 */
const body = `
DECLARE
  rec record;
  last int := coalesce(array_length(stmts, 1), 0);
  lit text;
  n bigint;
BEGIN
  FOR i IN 1 .. last - 1 LOOP
    EXECUTE stmts[i];
  END LOOP;
  IF last > 0 AND cardinality(args) > 0 THEN
    EXECUTE 'PREPARE insforge_boundary_stmt AS ' || stmts[last];
    SELECT 'EXECUTE insforge_boundary_stmt(' || string_agg(pg_catalog.quote_nullable(a), ',' ORDER BY o) || ')'
      INTO lit FROM pg_catalog.unnest(args) WITH ORDINALITY AS u(a, o);
    IF returns_rows THEN
      FOR rec IN EXECUTE lit LOOP r := pg_catalog.row_to_json(rec); RETURN NEXT; END LOOP;
    ELSE
      BEGIN
        FOR rec IN EXECUTE lit LOOP r := pg_catalog.row_to_json(rec); RETURN NEXT; END LOOP;
      EXCEPTION WHEN invalid_cursor_definition THEN
        EXECUTE lit;
        GET DIAGNOSTICS n = ROW_COUNT;
        r := NULL; affected := n; RETURN NEXT;
      END;
    END IF;
    DEALLOCATE insforge_boundary_stmt;
  ELSIF last > 0 THEN
    IF returns_rows THEN
      FOR rec IN EXECUTE stmts[last] LOOP r := pg_catalog.row_to_json(rec); RETURN NEXT; END LOOP;
    ELSE
      -- a statement that cannot be read as rows (DDL, DML without RETURNING, several statements) is
      -- refused by the cursor before it runs (42P11), then run for its row count
      BEGIN
        FOR rec IN EXECUTE stmts[last] LOOP r := pg_catalog.row_to_json(rec); RETURN NEXT; END LOOP;
      EXCEPTION WHEN invalid_cursor_definition THEN
        EXECUTE stmts[last];
        GET DIAGNOSTICS n = ROW_COUNT;
        r := NULL; affected := n; RETURN NEXT;
      END;
    END IF;
  END IF;
  SET CONSTRAINTS ALL IMMEDIATE;
END`;

/**
 * Created by the superuser (bootstrap) at every start, so a changed or dropped function is restored.
 * Ownership moves to the role; the role holds CREATE on the schema only for that moment.
 */
export function boundarySql(sessionRole: string | undefined): string {
  const fns = CALLER_ROLES.map((role) => {
    const fn = boundaryFunction(role);
    return `
CREATE OR REPLACE FUNCTION ${fn}(stmts text[], args text[], returns_rows boolean)
  RETURNS TABLE (r json, affected bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = "$user", public
AS $fn$${body}$fn$;
GRANT CREATE ON SCHEMA insforge_boundary TO ${role};
ALTER FUNCTION ${fn}(text[], text[], boolean) OWNER TO ${role};
REVOKE CREATE ON SCHEMA insforge_boundary FROM ${role};
REVOKE ALL ON FUNCTION ${fn}(text[], text[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION ${fn}(text[], text[], boolean) FROM ${role};
${sessionRole ? `GRANT EXECUTE ON FUNCTION ${fn}(text[], text[], boolean) TO ${sessionRole};` : ''}`;
  });
  return `
CREATE SCHEMA IF NOT EXISTS insforge_boundary;
REVOKE ALL ON SCHEMA insforge_boundary FROM PUBLIC;
${CALLER_ROLES.map((r) => `REVOKE ALL ON SCHEMA insforge_boundary FROM ${r};`).join('\n')}
${sessionRole ? `GRANT USAGE ON SCHEMA insforge_boundary TO ${sessionRole};` : ''}
${fns.join('\n')}`;
}

/** Who a transaction runs as: the role and the JWT claims SQL sees through auth.uid() / auth.jwt(). */
export interface CallerIdentity {
  role: DbRole;
  claims: Record<string, unknown>;
}

export interface CallerTxOptions {
  /** READ ONLY, and rolled back at the end whatever happened (run-sql in --read-only mode). */
  readOnly?: boolean;
}

/**
 * The statements that open a caller's transaction, in order. The isolation and access mode are
 * explicit, so that defaults a request might have changed at session level cannot apply; the
 * claims (and, where the server enforces it, the statement timeout) are transaction-local.
 */
export function openingStatements(who: CallerIdentity, opts: CallerTxOptions & { statementTimeoutMs: number }): { text: string; values?: unknown[] }[] {
  return [
    { text: 'BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE' },
    ...(opts.readOnly ? [{ text: 'SET TRANSACTION READ ONLY' }] : []),
    {
      text: "SELECT pg_catalog.set_config('request.jwt.claims', $1, true), pg_catalog.set_config('statement_timeout', $2, true)",
      values: [JSON.stringify(who.claims), String(opts.statementTimeoutMs)],
    },
  ];
}

/** The call of a role's boundary function for one statement (or script). */
export const boundaryCall = (role: DbRole) => `SELECT r, affected FROM ${boundaryFunction(role)}($1, $2, $3)`;

/** Parameter values as the boundary takes them: text, as the drivers would send them. */
export function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return arrayLiteral(value);
  return JSON.stringify(value);
}

/** A JS array as a Postgres array literal (every element quoted), as node-postgres writes it. */
function arrayLiteral(items: unknown[]): string {
  const parts = items.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item);
    const text = asText(item)!;
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${parts.join(',')}}`;
}

/** One boundary row: a row of the statement as JSON, or the affected count of a statement without rows. */
export interface BoundaryRow {
  r: unknown;
  affected: number | string | bigint | null;
}

/** The statement's rows and count from what the boundary function returned. */
export function fromBoundaryRows<R>(rows: BoundaryRow[]): { rows: R[]; rowCount: number; fields: { name: string }[] } {
  if (rows.length === 1 && rows[0]!.r === null && rows[0]!.affected !== null) {
    return { rows: [], rowCount: Number(rows[0]!.affected), fields: [] };
  }
  const values = rows.map((row) => (typeof row.r === 'string' ? JSON.parse(row.r) : row.r) as R);
  const first = values[0];
  return { rows: values, rowCount: values.length, fields: first && typeof first === 'object' ? Object.keys(first).map((name) => ({ name })) : [] };
}
