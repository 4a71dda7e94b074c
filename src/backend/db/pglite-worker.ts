/**
 * PGlite in a worker thread of its own, so a long statement never blocks the process's event loop
 * (the MCP server and the backend's HTTP keep answering), and so a statement past its timeout can be
 * ended by terminating this thread (pglite.ts), which PGlite itself cannot do.
 *
 * Messages in: an internal query/exec (typed rows, as PGlite gives them), or a pipeline of statement
 * groups sent in one protocol round trip (each group ends with Sync; a failed statement skips the rest
 * of its group). Messages out: the result or the error, with the request's id.
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, protocol, types } from '@electric-sql/pglite';

export interface WorkerData {
  dataDir?: string;
  /** Compiled once by the host (pglite.ts), so no worker compiles them again. */
  pgliteWasmModule: WebAssembly.Module;
  initdbWasmModule: WebAssembly.Module;
}

export interface PipelineStep {
  text: string;
  values?: (string | null)[];
}

export type WorkerRequest =
  | { id: number; op: 'query'; text: string; values?: unknown[] }
  | { id: number; op: 'exec'; text: string }
  | { id: number; op: 'pipeline'; groups: PipelineStep[][] }
  | { id: number; op: 'close' };

export interface StepResult {
  rows: Record<string, unknown>[];
  fields: { name: string; dataTypeID: number }[];
  rowCount: number;
}

export interface WorkerError {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
  // which object the error is about (a not-null column, a violated constraint): error messages name them
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/** A pipeline's outcome: each group's results, or the error that ended it. */
export type GroupOutcome = { ok: true; steps: StepResult[] } | { ok: false; error: WorkerError; steps: StepResult[] };

export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WorkerError } | { id: -1; ready: true } | { id: -1; failed: WorkerError };

interface PgliteResult {
  rows: Record<string, unknown>[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
  rowCount?: number;
}

const toStep = (r: PgliteResult | undefined): StepResult => ({
  rows: r?.rows ?? [],
  fields: r?.fields ?? [],
  rowCount: r?.rowCount ?? r?.affectedRows ?? r?.rows.length ?? 0,
});

function errorOf(err: unknown): WorkerError {
  const e = err as WorkerError & Error;
  return { message: e?.message ?? String(err), code: e?.code, detail: e?.detail, hint: e?.hint, position: e?.position, where: e?.where, schema: e?.schema, table: e?.table, column: e?.column, constraint: e?.constraint };
}

/**
 * A new data dir is made beside its final place and renamed into it once initdb has finished, so a
 * process killed during the first start leaves nothing half-made behind.
 */
async function ensureInitialised(dataDir: string, wasm: Pick<WorkerData, 'pgliteWasmModule' | 'initdbWasmModule'>): Promise<void> {
  if (existsSync(dataDir)) return;
  const staging = `${dataDir}.init-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const pg = new PGlite(staging, wasm);
  await pg.waitReady;
  await pg.close();
  await rename(staging, dataDir);
}

/** Statements of several groups in one buffer: Parse/Bind/Describe/Execute each, Sync after a group. */
function pipelineMessage(groups: PipelineStep[][]): Uint8Array {
  const { serialize } = protocol;
  const parts: Uint8Array[] = [];
  for (const group of groups) {
    for (const step of group) {
      parts.push(serialize.parse({ text: step.text }), serialize.bind({ values: step.values ?? [] }), serialize.describe({ type: 'P' }), serialize.execute({}));
    }
    parts.push(serialize.sync());
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.byteLength));
  return out;
}

/** Walks the answer: rows and counts per statement; the first error of a group skips to its Sync. */
function readPipeline(groups: PipelineStep[][], messages: { name: string; [k: string]: unknown }[]): GroupOutcome[] {
  const outcomes: GroupOutcome[] = [];
  let group = 0;
  let steps: StepResult[] = [];
  let current: StepResult = { rows: [], fields: [], rowCount: 0 };
  let error: WorkerError | undefined;
  for (const m of messages) {
    switch (m.name) {
      case 'rowDescription':
        current.fields = (m.fields as { name: string; dataTypeID: number }[]).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
        break;
      case 'dataRow': {
        const values = m.fields as (string | null)[];
        current.rows.push(Object.fromEntries(current.fields.map((f, i) => [f.name, types.parseType(values[i] ?? null, f.dataTypeID)])));
        break;
      }
      case 'commandComplete':
      case 'emptyQuery': {
        const words = String(m.text ?? '').split(' ');
        const count = Number(words[words.length - 1]);
        current.rowCount = /^(INSERT|UPDATE|DELETE|MERGE|COPY)$/.test(words[0] ?? '') && Number.isFinite(count) ? count : current.rows.length;
        steps.push(current);
        current = { rows: [], fields: [], rowCount: 0 };
        break;
      }
      case 'error':
        error ??= errorOf(m);
        break;
      case 'readyForQuery':
        outcomes.push(error ? { ok: false, error, steps } : { ok: true, steps });
        group++;
        steps = [];
        current = { rows: [], fields: [], rowCount: 0 };
        error = undefined;
        break;
    }
  }
  if (group !== groups.length) throw new Error(`pipeline answered ${group} of ${groups.length} groups`);
  return outcomes;
}

async function main() {
  const { dataDir, pgliteWasmModule, initdbWasmModule } = workerData as WorkerData;
  const wasm = { pgliteWasmModule, initdbWasmModule };
  if (dataDir) await ensureInitialised(dataDir, wasm);
  const pg = new PGlite(dataDir, {
    ...wasm,
    // The session's own statements (the backend's queries) resolve names in pg_catalog only, whatever
    // a user creates in public; request SQL gets the usual "$user", public inside its boundary.
    startParams: (PGlite as unknown as { defaultStartParams: string[] }).defaultStartParams.map((p) => (p === 'search_path=public' ? 'search_path=pg_catalog,pg_temp' : p)),
    // Strings go to Postgres as they are, so a bad value is Postgres's 22P02, not a JS throw (a 500).
    serializers: {
      16: (v: unknown) => (typeof v === 'string' ? v : v ? 't' : 'f'),
      17: (v: unknown) => (typeof v === 'string' ? v : `\\x${Buffer.from(v as Uint8Array).toString('hex')}`),
    },
  });
  await pg.waitReady;
  const port = parentPort!;
  port.postMessage({ id: -1, ready: true } satisfies WorkerResponse);

  const handle = async (req: WorkerRequest): Promise<unknown> => {
    switch (req.op) {
      case 'query':
        return toStep((await pg.query(req.text, req.values)) as PgliteResult);
      case 'exec': {
        const results = (await pg.exec(req.text)) as PgliteResult[];
        return toStep(results[results.length - 1]);
      }
      case 'pipeline': {
        const { messages } = await pg.execProtocol(pipelineMessage(req.groups), { throwOnError: false });
        return readPipeline(req.groups, messages as unknown as { name: string }[]);
      }
      case 'close':
        await pg.close();
        return null;
    }
  };
  // one request at a time, in order: the host serialises them, this keeps the worker honest too
  let chain = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    chain = chain.then(async () => {
      try {
        port.postMessage({ id: req.id, ok: true, result: await handle(req) } satisfies WorkerResponse);
      } catch (err) {
        port.postMessage({ id: req.id, ok: false, error: errorOf(err) } satisfies WorkerResponse);
      }
      if (req.op === 'close') port.close();
    });
  });
}

main().catch((err: unknown) => parentPort?.postMessage({ id: -1, failed: errorOf(err) } satisfies WorkerResponse));
