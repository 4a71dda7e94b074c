/**
 * Runs one function invocation inside a worker thread, then the runner terminates the thread.
 * The runner starts the thread ahead of need (a warm spare), so the input comes as a message.
 *
 * It imports Node built-ins only and nothing from the rest of the backend: runner.ts compiles this
 * file on its own, so it must stand alone. (The runner before the Deno sandbox, kept as the
 * benchmark's baseline.)
 *
 * A function is either an ES module whose default export is `async (req: Request) => Response`
 * (also `export default { fetch }`), or InsForge's `module.exports = async function (request) {…}`.
 */
import { parentPort } from 'node:worker_threads';

export interface WorkerRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body?: Uint8Array;
}

export interface WorkerInput {
  /** 'check' only loads the code and looks for a handler (at deploy time). */
  mode: 'invoke' | 'check';
  /** The function's slug: names its code in stack traces. */
  name: string;
  code: string;
  request?: WorkerRequest;
  env: Record<string, string>;
}

export type WorkerOutput =
  | { ok: true; status: number; headers: [string, string][]; body: Uint8Array }
  | { ok: true; checked: true }
  /** `stack` holds only the frames in the function's own code, as functions/<slug>.js:line:column. */
  | { ok: false; phase: 'load' | 'run'; message: string; stack?: string };

type Handler = (request: Request) => unknown;

const USAGE = 'Export a handler: `export default async (req) => new Response(…)` or `module.exports = async function (request) { … }`.';

const encodeBase64 = (data: string | ArrayBuffer | Uint8Array) =>
  (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data)).toString('base64');
const decodeBase64 = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

/** What InsForge's Deno runtime gives a function, as far as it makes sense here. */
function installGlobals(env: Record<string, string>) {
  // the thread was started with an empty environment; this invocation's variables go in now
  Object.assign(process.env, env);
  const deno = {
    env: {
      get: (name: string): string | undefined => env[name],
      has: (name: string) => name in env,
      toObject: () => ({ ...env }),
    },
  };
  Object.assign(globalThis, {
    Deno: deno,
    encodeBase64,
    decodeBase64,
    INSFORGE_BASE_URL: env.INSFORGE_BASE_URL,
    INSFORGE_TOKEN: env.INSFORGE_TOKEN,
  });
  return deno;
}

/** CommonJS functions may require Node built-ins; there is no node_modules to resolve anything else from. */
function builtinRequire(id: string): unknown {
  const mod = process.getBuiltinModule(id);
  if (!mod) throw new Error(`Cannot require "${id}" in a function: only Node built-ins are available. Bundle other dependencies into the code.`);
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

/** Where the function's code appears in stack traces (V8 honours sourceURL in both forms). */
let sourceName = 'functions/function.js';
/** The CommonJS wrapper puts two lines (`function anonymous(…` and `) {`) before the code. */
let lineOffset = 0;

async function loadHandler(code: string, deno: unknown): Promise<Handler> {
  const source = `${code}\n//# sourceURL=${sourceName}`;
  // Parsing as a CommonJS body first is cheap and decides the form: `export`/`import` statements
  // are a SyntaxError there, so such code goes to the ES module loader instead.
  let commonJs: ((...args: unknown[]) => void) | undefined;
  try {
    commonJs = new Function('exports', 'module', 'require', 'Deno', 'encodeBase64', 'decodeBase64', source) as (...args: unknown[]) => void;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
  }
  if (commonJs) {
    lineOffset = 2;
    const module = { exports: {} as unknown };
    commonJs.call(module.exports, module.exports, module, builtinRequire, deno, encodeBase64, decodeBase64);
    return pickHandler(module.exports);
  }
  const namespace: unknown = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  return pickHandler(namespace);
}

/** The frames in the function's own code; the runtime's frames help no one fix a function. */
function userFrames(stack: string | undefined): string | undefined {
  const at = `${sourceName}:`;
  const frames = (stack ?? '')
    .split('\n')
    .filter((line) => line.includes(at))
    .map((line) => {
      const trimmed = line.trim();
      const i = trimmed.indexOf(at) + at.length;
      return trimmed.slice(0, i) + trimmed.slice(i).replace(/^\d+/, (n) => String(Number(n) - lineOffset));
    });
  return frames.length ? frames.slice(0, 10).join('\n') : undefined;
}

function toRequest(r: WorkerRequest): Request {
  const bodyless = r.method === 'GET' || r.method === 'HEAD';
  return new Request(r.url, { method: r.method, headers: r.headers, body: bodyless || !r.body?.byteLength ? undefined : r.body });
}

async function toOutput(result: unknown): Promise<WorkerOutput> {
  if (!(result instanceof Response)) {
    const what = result === null ? 'null' : typeof result === 'object' ? `an object (${Object.keys(result as object).slice(0, 5).join(', ')})` : typeof result;
    throw new TypeError(`The function returned ${what}, not a Response. Return e.g. new Response(JSON.stringify(data), { headers: { 'Content-Type': 'application/json' } }).`);
  }
  const body = new Uint8Array(await result.arrayBuffer());
  // A Response from fetch() (a function proxying a call) has its body decoded already but keeps
  // the Content-Encoding it came with; passing that on would make clients decode it again.
  const headers = [...result.headers].filter(([name]) => !(result.url && name === 'content-encoding'));
  return { ok: true, status: result.status, headers, body };
}

function failure(phase: 'load' | 'run', err: unknown): WorkerOutput {
  const e = err instanceof Error ? err : new Error(String(err));
  return { ok: false, phase, message: e.message || e.name, stack: userFrames(e.stack) };
}

async function main(input: WorkerInput): Promise<WorkerOutput> {
  sourceName = `functions/${input.name}.js`;
  const deno = installGlobals(input.env);
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

// Node loads the fetch classes on first use, which costs tens of milliseconds: pay it while idle.
void new Response(new Request('http://localhost/').body);

const answer = (output: WorkerOutput) => parentPort!.postMessage(output, 'body' in output ? [output.body.buffer as ArrayBuffer] : []);
// an error outside the handler's promise (a throwing timer, say) fails the invocation the same way
process.on('uncaughtException', (err) => answer(failure('run', err)));
process.on('unhandledRejection', (err) => answer(failure('run', err)));

parentPort!.once('message', (input: WorkerInput) => {
  void main(input).then(answer);
});
