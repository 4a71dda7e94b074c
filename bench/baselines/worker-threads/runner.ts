import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../../../src/backend/errors.js';
import type { WorkerInput, WorkerOutput, WorkerRequest } from './worker.js';

export interface FunctionLimits {
  /** Wall-clock time an invocation may take, counted once its thread runs (not while it boots). */
  timeoutMs: number;
  /** V8 old-generation heap of the worker. */
  memoryMb: number;
  /** Workers alive at once; further invocations wait for a free slot. */
  maxConcurrent: number;
}

export interface FunctionResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Thrown when the client went away and the invocation was stopped: there is no one to answer. */
export class InvocationAborted extends Error {}

/**
 * The worker script, compiled from worker.ts with esbuild once (Node 20 cannot load the .ts in a
 * worker). This runner is the functions runner from before the Deno sandbox, kept as the benchmark's
 * baseline only: nothing builds it into dist/.
 */
let scriptUrl: Promise<URL> | undefined;
function workerScript(): Promise<URL> {
  return (scriptUrl ??= (async () => {
    const source = new URL('./worker.ts', import.meta.url);
    const { transform } = await import('esbuild');
    const { code } = await transform(readFileSync(source, 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' });
    return new URL(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  })());
}

/** A started worker thread, used for one invocation; its events go to whoever took it. */
interface Thread {
  worker: Worker;
  /** Resolves when the thread has booted and runs JavaScript. */
  online: Promise<void>;
  /** Name shown on the function's console output. */
  label: string;
  onMessage?: (out: WorkerOutput) => void;
  onError?: (err: Error & { code?: string }) => void;
  onExit?: (code: number) => void;
}

/**
 * Runs functions, each invocation in its own worker thread with a time and a heap limit; a thread
 * serves one invocation and is then terminated, so nothing leaks from one call to the next.
 * Starting a thread (and Node's fetch classes in it) costs ~90 ms, so one spare is kept started
 * ahead of need: a call takes it and starts the next.
 */
export class FunctionRunner {
  private readonly threads = new Set<Worker>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private spare?: Thread;
  private closed = false;

  constructor(
    private readonly limits: FunctionLimits,
    private readonly log: (msg: string) => void,
  ) {}

  /** Runs the function on one request. Throws ApiError for a throw, a timeout or memory exhaustion. */
  async invoke(slug: string, code: string, request: WorkerRequest, env: Record<string, string>, signal?: AbortSignal): Promise<FunctionResponse> {
    const out = await this.run(slug, { mode: 'invoke', name: slug, code, request, env }, signal);
    if ('status' in out) return out;
    throw new Error('worker answered a check to an invocation');
  }

  /** Loads the code as an invocation would and checks that it exports a handler. */
  async check(slug: string, code: string): Promise<void> {
    await this.run(slug, { mode: 'check', name: slug, code, env: {} });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.spare = undefined;
    await Promise.all([...this.threads].map((w) => w.terminate()));
  }

  /** A semaphore: at most maxConcurrent invocations; a freed slot goes straight to the next waiter. */
  private async acquire(): Promise<void> {
    if (this.active < this.limits.maxConcurrent) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private async run(slug: string, input: WorkerInput, signal?: AbortSignal): Promise<Exclude<WorkerOutput, { ok: false }>> {
    await this.acquire();
    try {
      if (this.closed) throw new ApiError(503, 'FUNCTION_RUNTIME_UNAVAILABLE', 'The backend is shutting down', 'Retry once the backend is up again.');
      const thread = this.spare ?? (await this.start());
      this.spare = undefined;
      thread.label = slug;
      void this.start().then(
        (next) => {
          if (this.closed || this.spare) void next.worker.terminate();
          else this.spare = next;
        },
        () => undefined,
      );
      return await this.runOn(thread, slug, input, signal);
    } finally {
      this.release();
    }
  }

  private async start(): Promise<Thread> {
    const url = await workerScript();
    const worker = new Worker(url, {
      // nothing of the backend's own environment (keys, DATABASE_URL); the function's variables come with its input
      env: {},
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: this.limits.memoryMb },
      // a function's console output must not reach stdout, which is the MCP stdio transport
      stdout: true,
      stderr: true,
    });
    // the HTTP server keeps the process alive; an idle spare must not
    worker.unref();
    const thread: Thread = { worker, online: new Promise((resolve) => worker.once('online', () => resolve())), label: '(starting)' };
    this.threads.add(worker);
    forwardOutput(worker, (line) => this.log(`function ${thread.label}: ${line}`));
    worker.on('message', (out: WorkerOutput) => thread.onMessage?.(out));
    worker.on('error', (err: Error & { code?: string }) => thread.onError?.(err));
    worker.on('exit', (code) => {
      this.threads.delete(worker);
      if (this.spare === thread) this.spare = undefined;
      thread.onExit?.(code);
    });
    return thread;
  }

  private runOn(thread: Thread, slug: string, input: WorkerInput, signal?: AbortSignal): Promise<Exclude<WorkerOutput, { ok: false }>> {
    const { timeoutMs, memoryMb } = this.limits;
    const checking = input.mode === 'check';
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
        // whatever the function left running (timers, sockets) ends with its thread
        void thread.worker.terminate();
      };
      // The limit is the function's: on a busy machine a thread may take long to boot, which is not its fault.
      void thread.online.then(() => {
        if (settled) return;
        timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new ApiError(504, 'FUNCTION_TIMEOUT', `Function "${slug}" did not respond within ${timeoutMs} ms and was stopped`, 'Make the function return sooner (await what it starts; no endless loops), or raise --function-timeout-ms (INSFORGE_FUNCTION_TIMEOUT_MS).'),
              ),
            ),
          timeoutMs,
        );
      });
      const onAbort = () => finish(() => reject(new InvocationAborted('client disconnected')));
      signal?.addEventListener('abort', onAbort, { once: true });

      thread.onMessage = (out) =>
        finish(() => {
          if (out.ok) return resolve(out);
          const extra = out.stack ? { details: out.stack } : {};
          if (checking) return reject(new ApiError(400, 'INVALID_INPUT', `code: ${out.message}`, `Fix the code so that it loads. ${USAGE}`, extra));
          const next = out.phase === 'load' ? `The code failed to load. ${USAGE}` : 'The function threw; fix it, or catch the error and return a Response with an error status.';
          reject(new ApiError(500, 'FUNCTION_ERROR', out.message, next, extra));
        });
      thread.onError = (err) =>
        finish(() => {
          if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
            return reject(
              new ApiError(500, 'FUNCTION_OUT_OF_MEMORY', `Function "${slug}" exceeded its memory limit (${memoryMb} MB) and was stopped`, 'Use less memory (stream or page through data), or raise --function-memory-mb (INSFORGE_FUNCTION_MEMORY_MB).'),
            );
          }
          reject(new ApiError(500, 'FUNCTION_ERROR', err.message, 'The function runtime failed; see the backend log.'));
        });
      thread.onExit = (exitCode) =>
        finish(() => reject(new ApiError(500, 'FUNCTION_ERROR', `Function "${slug}" exited (code ${exitCode}) before returning a Response`, 'Do not call process.exit(); return a Response from the handler.')));
      thread.worker.postMessage(input);
    });
  }
}

const USAGE = 'Export a handler: `export default async (req) => new Response(…)` or `module.exports = async function (request) { … }`.';

/** The worker's stdout and stderr, line by line, into the backend log (stderr). */
function forwardOutput(worker: Worker, log: (line: string) => void) {
  for (const stream of [worker.stdout, worker.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
    });
    stream.on('end', () => pending && log(pending));
  }
}
