/**
 * The program Deno runs for one function invocation, in a process of its own that has no permission
 * but network access to the backend (see deno.ts for the flags and limits). It is bundled on its own
 * (dist/functions-runtime.js, by scripts/functions-runtime.mjs) with the @insforge/sdk source inside
 * it, so Deno loads one file and nothing else: every import a function makes is checked against the
 * permissions, and this file is the whole static module graph.
 *
 * It speaks protocol.ts over its pipes.
 *
 * A function is InsForge's `module.exports = async function (request) {…}` (run as InsForge's worker
 * template runs it, with createClient, Deno, encodeBase64 and decodeBase64 in scope) or an ES module
 * whose default export is `async (req: Request) => Response` (also `export default { fetch }`).
 */
import SDK_SOURCE from 'insforge-sdk-source';
import { READY, type RuntimeInput, type RuntimeOutput, type RuntimeRequest } from './protocol.js';

/** The little of Deno's API this file uses (the project's type-check knows Node's types, not Deno's). */
declare const Deno: {
  stdin: { readable: ReadableStream<Uint8Array> };
  stdout: { writeSync(p: Uint8Array): number };
  exit(code?: number): never;
};

type Handler = (request: Request) => unknown;

const USAGE = 'Export a handler: `export default async (req) => new Response(…)` or `module.exports = async function (request) { … }`.';

// Kept before any function code runs: the function sees a Deno whose env is its own (below).
const realDeno = Deno;
const encoder = new TextEncoder();
// a function may replace globals; the answer is written with the originals
const stringify = JSON.stringify;

function writeLine(text: string) {
  const bytes = encoder.encode(`${text}\n`);
  for (let at = 0; at < bytes.length; ) at += realDeno.stdout.writeSync(bytes.subarray(at));
}

type Base64Input = string | ArrayBuffer | Uint8Array;
const toBytes = (data: Base64Input) => (typeof data === 'string' ? encoder.encode(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data);
// Uint8Array.prototype.toBase64 / Uint8Array.fromBase64 are in V8 since 14; Deno 2.9 ships 15.
const encodeBase64 = (data: Base64Input): string => (toBytes(data) as Uint8Array & { toBase64(): string }).toBase64();
const decodeBase64 = (b64: string): Uint8Array => (Uint8Array as unknown as { fromBase64(s: string): Uint8Array }).fromBase64(b64);

/** createClient from @insforge/sdk, as InsForge's worker gives it; the SDK is compiled on first use only. */
let sdk: { createClient: (...args: unknown[]) => unknown } | undefined;
const createClient = (...args: unknown[]) => {
  sdk ??= new Function(`${SDK_SOURCE}\nreturn __insforgeSdk;`)() as typeof sdk;
  return sdk!.createClient(...args);
};

/** The function's environment is the input's variables, nothing else, as Deno.env and process.env. */
function installEnvironment(env: Record<string, string>) {
  const vars = Object.freeze({ ...env });
  const denoEnv = Object.freeze({
    get: (name: string): string | undefined => (Object.hasOwn(vars, name) ? vars[name] : undefined),
    has: (name: string) => Object.hasOwn(vars, name),
    toObject: () => ({ ...vars }),
    set: () => {
      throw new Error('Deno.env.set is not available in a function');
    },
    delete: () => {
      throw new Error('Deno.env.delete is not available in a function');
    },
  });
  // Everything else of Deno stays, under the process's permissions (which refuse files, processes, …).
  const deno = Object.freeze(Object.create(realDeno, { env: { value: denoEnv, enumerable: true } }));
  Object.defineProperty(globalThis, 'Deno', { value: deno, configurable: false, writable: false });
  (globalThis as { process?: { env: unknown } }).process!.env = { ...vars };
  // as globals too, as this backend has always given them
  Object.assign(globalThis, { INSFORGE_BASE_URL: vars.INSFORGE_BASE_URL, INSFORGE_TOKEN: vars.INSFORGE_TOKEN });
  // Web storage would be kept in Deno's cache folder and outlive the invocation: functions get none
  // (Deno is also given a cache folder that cannot be created, so it could not store them anyway).
  for (const name of ['localStorage', 'sessionStorage', 'caches']) delete (globalThis as Record<string, unknown>)[name];
  return deno;
}

/** CommonJS functions may require Node built-ins; there is nothing else to resolve from. */
function builtinRequire(id: string): unknown {
  const mod = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule?.(id);
  if (!mod) throw new Error(`Cannot require "${id}" in a function: only Node built-ins (node:crypto, …) are available. Bundle other dependencies into the code.`);
  return mod;
}

function pickHandler(exported: unknown): Handler {
  const candidates = [exported, (exported as { default?: unknown } | undefined)?.default];
  for (const c of candidates) {
    if (typeof c === 'function') return c as Handler;
    const fetch = (c as { fetch?: unknown } | undefined)?.fetch;
    if (typeof fetch === 'function') return (fetch as Handler).bind(c);
  }
  throw new Error(`The code exports no handler function. ${USAGE}`);
}

/** Where the function's code appears in stack traces: functions/<slug>.js. */
let sourceName = 'functions/function.js';
/** How a frame in the function's code is written: a data: URL (ES module) or the sourceURL (CommonJS). */
let ownFrame = /$^/;
/** The CommonJS wrapper puts two lines (`function anonymous(…` and `) {`) before the code. */
let lineOffset = 0;

async function loadHandler(code: string, deno: unknown): Promise<Handler> {
  // Parsing as a CommonJS body first is cheap and decides the form: `export`/`import` statements
  // are a SyntaxError there, so such code goes to the ES module loader instead.
  let commonJs: ((...args: unknown[]) => void) | undefined;
  try {
    commonJs = new Function('exports', 'module', 'require', 'createClient', 'Deno', 'encodeBase64', 'decodeBase64', `${code}\n//# sourceURL=${sourceName}`) as typeof commonJs;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  if (commonJs) {
    lineOffset = 2;
    ownFrame = new RegExp(`${escapeRegExp(sourceName)}(?:, <anonymous>)?:(\\d+):(\\d+)`);
    const module = { exports: {} as unknown };
    commonJs.call(module.exports, module.exports, module, builtinRequire, createClient, deno, encodeBase64, decodeBase64);
    return pickHandler(module.exports);
  }
  // Deno shortens data: URLs in stack traces, keeping their start and end
  ownFrame = /data:text\/javascript[^\s()]*:(\d+):(\d+)/;
  return pickHandler(await import(`data:text/javascript;base64,${encodeBase64(code)}`));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The frames in the function's own code; the runtime's frames help no one fix a function. */
function userFrames(stack: string | undefined): string | undefined {
  const frames = (stack ?? '').split('\n').flatMap((line) => {
    const m = ownFrame.exec(line);
    if (!m) return [];
    const at = `${sourceName}:${Number(m[1]) - lineOffset}:${m[2]}`;
    return [line.trim().replace(m[0], at)];
  });
  return frames.length ? frames.slice(0, 10).join('\n') : undefined;
}

function toRequest(r: RuntimeRequest): Request {
  const bodyless = r.method === 'GET' || r.method === 'HEAD' || !r.body;
  return new Request(r.url, { method: r.method, headers: r.headers, body: bodyless ? undefined : decodeBase64(r.body!) });
}

async function toOutput(result: unknown): Promise<RuntimeOutput> {
  if (!(result instanceof Response)) {
    const what = result === null ? 'null' : typeof result === 'object' ? `an object (${Object.keys(result as object).slice(0, 5).join(', ')})` : typeof result;
    throw new TypeError(`The function returned ${what}, not a Response. Return e.g. new Response(JSON.stringify(data), { headers: { 'Content-Type': 'application/json' } }).`);
  }
  const body = new Uint8Array(await result.arrayBuffer());
  // A Response from fetch() (a function proxying a call) has its body decoded already but keeps
  // the Content-Encoding it came with; passing that on would make clients decode it again.
  const headers = [...result.headers].filter(([name]) => !(result.url && name === 'content-encoding'));
  return { ok: true, status: result.status, headers, body: encodeBase64(body) };
}

/** Array buffers beyond the memory limit fail to allocate (the heap limit ends the process instead). */
const isOutOfMemory = (e: Error) => e instanceof RangeError && /allocation failed|out of memory/i.test(e.message);

function failure(phase: 'load' | 'run', err: unknown): RuntimeOutput {
  const e = err instanceof Error ? err : new Error(String(err));
  // Deno names the module in load errors: the function's, not its data: URL
  const message = (e.message || e.name).replace(/data:text\/javascript;base64,[A-Za-z0-9+/=]+/g, sourceName);
  return { ok: false, phase: isOutOfMemory(e) ? 'memory' : phase, message, stack: userFrames(e.stack) };
}

async function run(input: RuntimeInput): Promise<RuntimeOutput> {
  sourceName = `functions/${input.name}.js`;
  const deno = installEnvironment(input.env);
  let handler: Handler;
  try {
    handler = await loadHandler(input.code, deno);
  } catch (err) {
    return failure('load', err);
  }
  if (input.mode === 'check') return { ok: true, checked: true };
  try {
    let result: unknown;
    try {
      result = await handler(toRequest(input.request!));
    } catch (thrown) {
      // a thrown Response is an answer, as in InsForge's runtime
      if (!(thrown instanceof Response)) throw thrown;
      result = thrown;
    }
    return await toOutput(result);
  } catch (err) {
    return failure('run', err);
  }
}

async function readInput(): Promise<RuntimeInput> {
  const text = await new Response(realDeno.stdin.readable).text();
  return JSON.parse(text) as RuntimeInput;
}

// Deno loads its Node compatibility (process, Buffer) and the fetch classes on first use, which
// costs a hundred milliseconds or more: pay it while this process waits as the spare.
void (globalThis as { process?: { env: unknown } }).process?.env;
void new Response(new Request('http://localhost/', { method: 'POST', body: '' }).body).arrayBuffer();
writeLine(READY);
const input = await readInput().catch(() => realDeno.exit(2)); // the backend went away before sending work
let answered = false;
const answer = (output: RuntimeOutput) => {
  if (answered) return;
  answered = true;
  writeLine(input.nonce + stringify(output));
  realDeno.exit(0);
};
// an error outside the handler's promise (a throwing timer, say) fails the invocation the same way
type GlobalEvent = Event & { error?: unknown; reason?: unknown };
const globalEvents = globalThis as unknown as { addEventListener(type: string, listener: (e: GlobalEvent) => void): void };
globalEvents.addEventListener('error', (e) => {
  e.preventDefault();
  answer(failure('run', e.error));
});
globalEvents.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  answer(failure('run', e.reason));
});
// The backend stops the process at the time limit; should the backend itself be gone, this does.
setTimeout(() => realDeno.exit(3), input.deadlineMs);
answer(await run(input));
