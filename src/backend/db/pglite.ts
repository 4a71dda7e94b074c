/**
 * PGlite (Postgres in WebAssembly), persisted in a directory and run in a worker thread
 * (pglite-worker.ts). This side owns the one database session: transactions take it in turn, every
 * worker call has the statement timeout, and a call past it ends the worker — the only way to stop
 * PGlite mid-statement — and a new one reopens the database (committed data is intact: Postgres
 * recovers from its WAL), while the caller gets SQLSTATE 57014.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CallerIdentity, CallerTxOptions } from './boundary.js';
import { boundaryCall, asText, fromBoundaryRows, openingStatements, type BoundaryRow } from './boundary.js';
import type { CallerTx, Database, InternalDb, Queryable, QueryResult } from './types.js';
import type { GroupOutcome, PipelineStep, StepResult, WorkerData, WorkerError, WorkerRequest, WorkerResponse } from './pglite-worker.js';

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** A database error as the drivers report it (SQLSTATE in `code`), so errors.ts maps it like any other. */
class PgliteError extends Error {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  constructor(e: WorkerError) {
    super(e.message);
    const { code, detail, hint, position, schema, table, column, constraint } = e;
    Object.assign(this, { code, detail, hint, position, schema, table, column, constraint });
  }
}

const timedOut = (ms: number) => new PgliteError({ code: '57014', message: `canceling statement due to statement timeout (it ran longer than ${ms} ms)` });
const restarted = () => new PgliteError({ code: '57P01', message: 'the database was restarted while this transaction was open (another statement ran past the statement timeout)' });

/**
 * The worker script. The build emits it beside the CLI (dist/pglite-worker.js; this module is then a
 * chunk in dist/chunks/). From source (tsx, vitest), it is bundled once with esbuild, a dev
 * dependency wherever the sources run, with PGlite left as an import of its installed files.
 */
let scriptUrl: Promise<URL> | undefined;
function workerScript(): Promise<URL> {
  return (scriptUrl ??= (async () => {
    for (const built of ['./pglite-worker.js', '../pglite-worker.js']) {
      const url = new URL(built, import.meta.url);
      if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return url;
    }
    const source = new URL('./pglite-worker.ts', import.meta.url);
    if (source.protocol !== 'file:' || !existsSync(fileURLToPath(source))) throw new Error(`pglite-worker.js not found beside ${import.meta.url}; rebuild with npm run build`);
    const { build } = await import('esbuild');
    // PGlite's ESM entry sits beside the CommonJS one that require.resolve finds (import.meta.resolve
    // is not available under vitest's module runner)
    const pglite = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite').replace(/\.cjs$/, '.js')).href;
    const out = await build({
      stdin: { contents: readFileSync(source, 'utf8'), loader: 'ts', resolveDir: fileURLToPath(new URL('.', source)) },
      bundle: true,
      format: 'esm',
      platform: 'node',
      write: false,
      logLevel: 'warning',
      plugins: [{ name: 'pglite-external', setup: (b) => b.onResolve({ filter: /^@electric-sql\/pglite$/ }, () => ({ path: pglite, external: true })) }],
    });
    return new URL(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0]!.text).toString('base64')}`);
  })());
}

/**
 * PGlite's two WebAssembly modules, compiled once per process and handed to every worker: a worker
 * that reopens the database after a timeout then starts in about half the time.
 */
let modules: Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module }> | undefined;
function compiledModules() {
  return (modules ??= (async () => {
    const require = createRequire(import.meta.url);
    const [pglite, initdb] = await Promise.all(['@electric-sql/pglite/pglite.wasm', '@electric-sql/pglite/initdb.wasm'].map((m) => readFile(require.resolve(m))));
    // the global exists in Node; this project's TypeScript lib declares only its types
    const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }).WebAssembly;
    return { pgliteWasmModule: await wasm.compile(pglite!), initdbWasmModule: await wasm.compile(initdb!) };
  })());
}

/** One at a time: the session's owner holds this until its transaction (or single query) is over. */
class SessionLock {
  private tail: Promise<void> = Promise.resolve();
  held = false;
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const turn = this.tail.then(() => {
      this.held = true;
      return () => {
        this.held = false;
        release();
      };
    });
    this.tail = this.tail.then(() => next);
    return turn;
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface PgliteOptions {
  dataDir?: string;
  statementTimeoutMs: number;
  log: (msg: string) => void;
}

class PgliteHost {
  private worker?: Worker;
  private ready?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Bumped on every restart: a transaction begun in an older generation is over. */
  generation = 0;
  readonly lock = new SessionLock();
  private closed = false;

  constructor(private readonly opts: PgliteOptions) {}

  start(): Promise<void> {
    const generation = this.generation;
    this.ready = (async () => {
      const [script, wasm] = await Promise.all([workerScript(), compiledModules()]);
      const worker = new Worker(script, { workerData: { dataDir: this.opts.dataDir, ...wasm } satisfies WorkerData, stdout: true, stderr: true });
      // the worker's console must never reach stdout, which may be the MCP stdio channel
      worker.stdout.on('data', (d: Buffer) => process.stderr.write(d));
      worker.stderr.on('data', (d: Buffer) => process.stderr.write(d));
      this.worker = worker;
      await new Promise<void>((resolve, reject) => {
        worker.on('message', (msg: WorkerResponse) => {
          if ('ready' in msg) return resolve();
          if ('failed' in msg) return reject(new PgliteError(msg.failed));
          const p = this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          clearTimeout(p.timer);
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new PgliteError(msg.error));
        });
        worker.on('error', (err) => {
          reject(err);
          this.lost(worker, err);
        });
        worker.on('exit', (code) => {
          reject(new Error(`the database worker exited (${code}) while opening the database`));
          this.lost(worker, new PgliteError({ code: '57P01', message: `the database worker stopped (exit code ${code})` }));
        });
      });
      if (generation !== this.generation) throw restarted();
    })();
    return this.ready;
  }

  /** The worker died or was ended: every call in flight fails, and a new one starts unless closing. */
  private lost(worker: Worker, err: Error) {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.generation++;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
    if (!this.closed) {
      this.opts.log(`database worker restarting: ${err.message}`);
      this.start().catch((e: Error) => this.opts.log(`database worker failed to restart: ${e.message}`));
    }
  }

  async call<T>(req: Request, generation = this.generation): Promise<T> {
    await this.ready;
    const worker = this.worker;
    if (!worker || generation !== this.generation) throw restarted();
    const id = this.nextId++;
    const ms = this.opts.statementTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // PGlite cannot be interrupted: end its thread, the caller gets 57014, a new worker reopens
        this.pending.delete(id);
        reject(timedOut(ms));
        this.opts.log(`a statement ran longer than ${ms} ms: restarting the database`);
        this.lost(worker, restarted());
        void worker.terminate();
      }, ms);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      worker.postMessage({ ...req, id });
    });
  }

  /** Ends the worker and starts a new one (a session that must not be reused). */
  restart(reason: string) {
    const worker = this.worker;
    if (!worker) return;
    this.lost(worker, new PgliteError({ code: '57P01', message: reason }));
    void worker.terminate();
  }

  async pipeline(groups: PipelineStep[][], generation: number): Promise<GroupOutcome[]> {
    return this.call<GroupOutcome[]>({ op: 'pipeline', groups }, generation);
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    // a graceful close only when idle; a statement still running is not waited for (exit within 1 s)
    if (!this.lock.held) {
      await Promise.race([this.call({ op: 'close' }).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.worker = undefined;
    await worker.terminate();
  }
}

const toResult = <R>(s: StepResult): QueryResult<R> => ({ rows: s.rows as R[], fields: s.fields, rowCount: s.rowCount });

/** A group's error as a thrown database error. */
function check(outcome: GroupOutcome | undefined): StepResult[] {
  if (!outcome) throw new Error('database pipeline gave no answer');
  if (!outcome.ok) throw new PgliteError(outcome.error);
  return outcome.steps;
}

export async function openPglite(opts: PgliteOptions): Promise<Database> {
  const host = new PgliteHost(opts);
  await host.start();

  const single = async <T>(req: Request): Promise<T> => {
    const release = await host.lock.acquire();
    try {
      return await host.call<T>(req);
    } finally {
      release();
    }
  };
  const held = (generation: number): Queryable => ({
    query: async (text, values) => toResult(await host.call<StepResult>({ op: 'query', text, values }, generation)),
    exec: async (text) => toResult(await host.call<StepResult>({ op: 'exec', text }, generation)),
  });

  const internal: InternalDb = {
    query: async (text, values) => toResult(await single<StepResult>({ op: 'query', text, values })),
    exec: async (text) => toResult(await single<StepResult>({ op: 'exec', text })),
    async transaction(fn) {
      const release = await host.lock.acquire();
      const generation = host.generation;
      const tx = held(generation);
      try {
        await tx.exec('BEGIN');
        const result = await fn(tx);
        await tx.exec('COMMIT');
        return result;
      } catch (err) {
        if (generation === host.generation) await tx.exec('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        release();
      }
    },
  };

  async function asCaller<T>(who: CallerIdentity, fn: (tx: CallerTx) => Promise<T>, opts: CallerTxOptions = {}): Promise<T> {
    const release = await host.lock.acquire();
    const generation = host.generation;
    let opened = false;
    const run = async <R>(statements: string[], values: unknown[] | undefined, returnsRows: boolean): Promise<QueryResult<R>> => {
      const call: PipelineStep = { text: boundaryCall(who.role), values: [asText(statements), asText((values ?? []).map(asText)), asText(returnsRows)] };
      // the transaction opens with its first statement, in the same round trip
      const opening = opened ? [] : openingStatements(who, { ...opts, statementTimeoutMs: 0 }).map((s) => ({ text: s.text, values: s.values?.map(asText) }));
      opened = true;
      const steps = check((await host.pipeline([[...opening, call]], generation))[0]);
      return fromBoundaryRows<R>(steps[steps.length - 1]!.rows as unknown as BoundaryRow[]);
    };
    const tx: CallerTx = {
      query: (text, values) => run([text], values, false),
      rows: (text, values) => run([text], values, true),
      script: (statements, values) => run(statements, values, false),
    };
    // COMMIT (or ROLLBACK), then a ROLLBACK for a transaction a failed COMMIT left open, then a clean session
    const end = async (commit: boolean) => {
      if (!opened || generation !== host.generation) return;
      const outcomes = await host.pipeline([[{ text: commit ? 'COMMIT' : 'ROLLBACK' }], [{ text: 'ROLLBACK' }], [{ text: 'DISCARD ALL' }]], generation);
      // a session that could not be cleaned is not handed to the next caller: a new worker starts
      if (!outcomes[2]?.ok) host.restart(`could not reset the session: ${outcomes[2]?.error.message ?? 'no answer'}`);
      check(outcomes[0]);
    };
    try {
      const result = await fn(tx);
      await end(!opts.readOnly);
      return result;
    } catch (err) {
      await end(false).catch(() => undefined);
      throw err;
    } finally {
      release();
    }
  }

  /** Opening, statement and COMMIT in one group, then the clean-up: one worker round trip in all. */
  async function asCallerOnce<R>(who: CallerIdentity, text: string, values: unknown[], opts: CallerTxOptions = {}): Promise<QueryResult<R>> {
    const release = await host.lock.acquire();
    try {
      const generation = host.generation;
      const opening = openingStatements(who, { ...opts, statementTimeoutMs: 0 }).map((s) => ({ text: s.text, values: s.values?.map(asText) }));
      const call: PipelineStep = { text: boundaryCall(who.role), values: [asText([text]), asText(values.map(asText)), 't'] };
      const outcomes = await host.pipeline([[...opening, call, { text: opts.readOnly ? 'ROLLBACK' : 'COMMIT' }], [{ text: 'ROLLBACK' }], [{ text: 'DISCARD ALL' }]], generation);
      if (!outcomes[2]?.ok) host.restart(`could not reset the session: ${outcomes[2]?.error.message ?? 'no answer'}`);
      const steps = check(outcomes[0]);
      return fromBoundaryRows<R>(steps[opening.length]!.rows as unknown as BoundaryRow[]);
    } finally {
      release();
    }
  }

  return { kind: 'pglite', internal, asCaller, asCallerOnce, close: () => host.close() };
}
