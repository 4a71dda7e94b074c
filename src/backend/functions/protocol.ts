/**
 * What the backend (sandbox.ts) and the program Deno runs (runtime.ts) say to each other over the
 * invocation process's pipes. Types and one constant only: runtime.ts is bundled for Deno, and
 * sandbox.ts must not load it into Node. Over pipes only (the process inherits no other descriptor):
 * - stdout: first the READY line (the process has booted; the time limit starts now), then whatever
 *   the function prints, then one line `<nonce><json RuntimeOutput>`. The nonce comes with the input
 *   and stays in the runtime module's scope, so a function cannot forge the answer by printing one.
 * - stdin: one JSON RuntimeInput, then EOF. Its `env` is the function's whole environment (backend
 *   URL, caller's token, later the project's secrets): Deno.env and process.env read from it, while
 *   the real process environment holds nothing and --allow-env is not granted.
 */

export const READY = '\u0001insforge-functions-runtime ready';

export interface RuntimeRequest {
  method: string;
  url: string;
  headers: [string, string][];
  /** base64 */
  body?: string;
}

export interface RuntimeInput {
  nonce: string;
  /** 'check' only loads the code and looks for a handler (at deploy time). */
  mode: 'invoke' | 'check';
  /** The function's slug: names its code in stack traces. */
  name: string;
  code: string;
  request?: RuntimeRequest;
  env: Record<string, string>;
  /** After this many ms the process ends itself, in case the backend that should stop it is gone. */
  deadlineMs: number;
}

export type RuntimeOutput =
  | { ok: true; status: number; headers: [string, string][]; /** base64 */ body: string }
  | { ok: true; checked: true }
  /** `stack` holds only the frames in the function's own code, as functions/<slug>.js:line:column. */
  | { ok: false; phase: 'load' | 'run' | 'memory'; message: string; stack?: string };
