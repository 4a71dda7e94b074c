import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../errors.js';
import { DenoUnavailable, findDeno, type SandboxOptions } from './deno.js';
import { Sandbox, type Outcome } from './sandbox.js';
import type { RuntimeInput, RuntimeOutput } from './protocol.js';

export interface FunctionLimits {
  /** Wall-clock time an invocation may take, counted once its process has booted. */
  timeoutMs: number;
  /** V8 heap of the process; on Linux also the bound of everything it allocates (array buffers too) beyond an idle Deno, plus MEMORY_HEADROOM_MB. */
  memoryMb: number;
  /** Processes running at once; further invocations wait for a free slot. */
  maxConcurrent: number;
}

export interface FunctionRuntimeOptions {
  /** A Deno binary of one's own (--deno-path); by default the one of the npm package `deno`. */
  denoPath?: string;
  /** The hosts (host:port) functions may connect to: the backend's own API. Known once it listens. */
  allowNet: () => string[];
}

export interface FunctionRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body?: Uint8Array;
}

export interface FunctionResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Thrown when the client went away and the invocation was stopped: there is no one to answer. */
export class InvocationAborted extends Error {}

/** Room above the heap limit for V8's young generation, compiled code, sockets and Deno's threads. */
const MEMORY_HEADROOM_MB = 64;
/** How long Deno may take to boot on a busy machine before functions are said not to work. */
const BOOT_TIMEOUT_MS = 30_000;
const MiB = 1024 * 1024;

const USAGE = 'Export a handler: `export default async (req) => new Response(…)` or `module.exports = async function (request) { … }`.';

/**
 * The runtime program Deno runs. The build emits it beside the CLI (dist/functions-runtime.js; this
 * module is then a chunk in dist/chunks/). From source (tsx, vitest) it is bundled once per process
 * with the build's own recipe, into a private temp folder.
 */
let runtimePath: Promise<string> | undefined;
function runtimeScript(): Promise<string> {
  return (runtimePath ??= (async () => {
    for (const built of ['./functions-runtime.js', '../functions-runtime.js']) {
      const url = new URL(built, import.meta.url);
      if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return fileURLToPath(url);
    }
    const recipe = new URL('../../../scripts/functions-runtime.mjs', import.meta.url);
    if (recipe.protocol !== 'file:' || !existsSync(fileURLToPath(recipe))) throw new Error(`functions-runtime.js not found beside ${import.meta.url}; rebuild with npm run build`);
    const [{ bundleFunctionsRuntime }, esbuild] = await Promise.all([import(recipe.href) as Promise<{ bundleFunctionsRuntime: (e: unknown) => Promise<string> }>, import('esbuild')]);
    const dir = mkdtempSync(join(tmpdir(), 'insforge-mcp-functions-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'functions-runtime.js');
    writeFileSync(file, await bundleFunctionsRuntime(esbuild));
    return file;
  })());
}

/**
 * Runs functions in Deno, each invocation in a process of its own (sandbox.ts, deno.ts) with a time
 * and a memory limit: a process serves one invocation and is then killed, so nothing leaks from one
 * call to the next, and a crash ends that invocation only. Starting Deno costs tens of milliseconds,
 * so one spare process is kept booted ahead of need: a call takes it and starts the next.
 */
export class FunctionRunner {
  private readonly sandboxes = new Set<Sandbox>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private spare?: Sandbox;
  private closed = false;
  /** VmData of an idle runtime process, measured once (Linux), to which the memory limit is added. */
  private idleDataKb?: Promise<number>;

  constructor(
    private readonly limits: FunctionLimits,
    private readonly runtime: FunctionRuntimeOptions,
    private readonly log: (msg: string) => void,
  ) {}

  /** Runs the function on one request. Throws ApiError for a throw, a timeout, memory exhaustion or no Deno. */
  async invoke(slug: string, code: string, request: FunctionRequest, env: Record<string, string>, signal?: AbortSignal, onOutput?: (line: string) => void): Promise<FunctionResponse> {
    const body = request.body?.byteLength ? Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString('base64') : undefined;
    const out = await this.run(slug, { mode: 'invoke', name: slug, code, request: { method: request.method, url: request.url, headers: request.headers, body }, env }, signal, onOutput);
    if (!('status' in out)) throw new Error('the runtime answered a check to an invocation');
    return { status: out.status, headers: out.headers, body: Buffer.from(out.body, 'base64') };
  }

  /** Loads the code as an invocation would (in the sandbox too: loading runs its top level) and checks that it exports a handler. */
  async check(slug: string, code: string): Promise<void> {
    await this.run(slug, { mode: 'check', name: slug, code, env: {} });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.spare = undefined;
    const ends = [...this.sandboxes].map((s) => (s.kill(), s.outcome));
    await Promise.all(ends);
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

  private async run(slug: string, input: Omit<RuntimeInput, 'nonce' | 'deadlineMs'>, signal?: AbortSignal, onOutput?: (line: string) => void): Promise<Exclude<RuntimeOutput, { ok: false }>> {
    await this.acquire();
    try {
      if (this.closed) throw new ApiError(503, 'FUNCTION_RUNTIME_UNAVAILABLE', 'The backend is shutting down', 'Retry once the backend is up again.');
      const sandbox = this.spare ?? (await this.start());
      this.spare = undefined;
      sandbox.label = slug;
      sandbox.onOutput = onOutput;
      void this.start().then(
        (next) => {
          if (this.closed || this.spare) next.kill();
          else this.spare = next;
        },
        () => undefined, // the next invocation will say why
      );
      return await this.runIn(sandbox, slug, input, signal);
    } finally {
      this.release();
    }
  }

  private async start(): Promise<Sandbox> {
    let options: SandboxOptions;
    try {
      options = await this.sandboxOptions();
    } catch (err) {
      throw unavailable(err);
    }
    return this.spawn(options);
  }

  private spawn(options: SandboxOptions): Sandbox {
    const limits = { answerBytes: Math.ceil((this.limits.memoryMb * MiB) / 3) * 4 + MiB, lineBytes: 8192, logBytes: MiB };
    const sandbox = new Sandbox(options, limits, this.log);
    this.sandboxes.add(sandbox);
    void sandbox.outcome.then(() => {
      this.sandboxes.delete(sandbox);
      if (this.spare === sandbox) this.spare = undefined;
    });
    return sandbox;
  }

  private async sandboxOptions(): Promise<SandboxOptions> {
    const deno = findDeno(this.runtime.denoPath);
    const runtime = await runtimeScript();
    const base: SandboxOptions = { deno, runtime, allowNet: this.runtime.allowNet(), heapMb: this.limits.memoryMb, cpuSeconds: Math.ceil(this.limits.timeoutMs / 1000) + 10 };
    if (process.platform !== 'linux') return base;
    const idleKb = await (this.idleDataKb ??= this.measureIdleData(base).catch((err: unknown) => {
      this.idleDataKb = undefined;
      throw err;
    }));
    return { ...base, dataLimitKb: idleKb + (this.limits.memoryMb + MEMORY_HEADROOM_MB) * 1024 };
  }

  /**
   * The data segment (VmData: private writable memory) of a booted, idle runtime process, with no
   * data limit. Deno reserves a few hundred MiB of it at start, more or less by machine, so the
   * limit is this plus what a function may use. RLIMIT_DATA is what bounds array buffers, which
   * V8's heap limit does not count.
   */
  private async measureIdleData(options: SandboxOptions): Promise<number> {
    const probe = this.spawn(options);
    probe.label = '(memory probe)';
    try {
      await bootOf(probe);
      const status = readFileSync(`/proc/${probe.pid}/status`, 'utf8');
      const kb = Number(/^VmData:\s+(\d+) kB/m.exec(status)?.[1]);
      if (!Number.isFinite(kb) || kb <= 0) throw new DenoUnavailable('Could not read the memory of a Deno process from /proc', 'Functions need Linux /proc to set their memory limit.');
      return kb;
    } finally {
      probe.kill();
    }
  }

  private runIn(sandbox: Sandbox, slug: string, input: Omit<RuntimeInput, 'nonce' | 'deadlineMs'>, signal?: AbortSignal): Promise<Exclude<RuntimeOutput, { ok: false }>> {
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
        sandbox.kill();
      };
      // The limit is the function's: on a busy machine Deno may take long to boot, which is not its fault.
      bootOf(sandbox).then(
        () => {
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
        },
        (err: unknown) => finish(() => reject(unavailable(err))),
      );
      const onAbort = () => finish(() => reject(new InvocationAborted('client disconnected')));
      signal?.addEventListener('abort', onAbort, { once: true });

      void sandbox.outcome.then((outcome) => finish(() => settle(outcome)));
      const settle = (outcome: Outcome) => {
        if (outcome.kind === 'bad-answer') return reject(new ApiError(500, 'FUNCTION_ERROR', `Function "${slug}" failed: ${outcome.reason}`, `Return a smaller response (at most ${memoryMb} MiB), and write to the console from the handler only.`));
        if (outcome.kind === 'exit') {
          if (!sandbox.booted) return reject(unavailable(bootFailure(outcome)));
          if (outcome.outOfMemory) return reject(outOfMemory(slug, memoryMb));
          const how = outcome.exit.signal ? `was killed (${outcome.exit.signal})` : `exited (code ${outcome.exit.code})`;
          return reject(new ApiError(500, 'FUNCTION_ERROR', `Function "${slug}" ${how} before returning a Response`, 'Do not exit the process; return a Response from the handler.'));
        }
        const out = outcome.output;
        if (out.ok) return resolve(out);
        const extra = out.stack ? { details: out.stack } : {};
        if (out.phase === 'memory') return reject(outOfMemory(slug, memoryMb));
        if (checking) return reject(new ApiError(400, 'INVALID_INPUT', `code: ${out.message}`, `Fix the code so that it loads. ${USAGE}`, extra));
        const next = out.phase === 'load' ? `The code failed to load. ${USAGE}` : 'The function threw; fix it, or catch the error and return a Response with an error status.';
        reject(new ApiError(500, 'FUNCTION_ERROR', out.message, next, extra));
      };
      // the runtime's own deadline backs up this timer, should the backend be gone
      sandbox.send({ ...input, deadlineMs: timeoutMs + BOOT_TIMEOUT_MS });
    });
  }
}

/** Resolves when the process has booted; rejects if it ended first or took longer than BOOT_TIMEOUT_MS. */
function bootOf(sandbox: Sandbox): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sandbox.kill();
      reject(new DenoUnavailable(`Deno did not start within ${BOOT_TIMEOUT_MS / 1000} s`, 'See the backend log; the machine may be overloaded.'));
    }, BOOT_TIMEOUT_MS);
    timer.unref();
    sandbox.ready.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (ended: Extract<Outcome, { kind: 'exit' }>) => {
        clearTimeout(timer);
        reject(bootFailure(ended));
      },
    );
  });
}

function bootFailure(ended: Extract<Outcome, { kind: 'exit' }>): DenoUnavailable {
  const how = ended.exit.signal ? `was killed (${ended.exit.signal})` : `exited (code ${ended.exit.code})`;
  return new DenoUnavailable(`Deno ${how} while starting${ended.stderrTail ? `: ${ended.stderrTail.slice(-500)}` : ''}`, 'Check the Deno binary (--deno-path, INSFORGE_DENO_PATH) and the memory limit (--function-memory-mb).');
}

const outOfMemory = (slug: string, memoryMb: number) =>
  new ApiError(500, 'FUNCTION_OUT_OF_MEMORY', `Function "${slug}" exceeded its memory limit (${memoryMb} MB) and was stopped`, 'Use less memory (stream or page through data), or raise --function-memory-mb (INSFORGE_FUNCTION_MEMORY_MB).');

/** Functions never run outside the sandbox: without Deno, deploy and invoke fail with the reason. */
function unavailable(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof DenoUnavailable) return new ApiError(503, 'FUNCTION_RUNTIME_UNAVAILABLE', `Functions cannot run: ${err.message}`, err.nextActions);
  return new ApiError(503, 'FUNCTION_RUNTIME_UNAVAILABLE', `Functions cannot run: ${(err as Error).message}`, 'See the backend log (stderr).');
}
