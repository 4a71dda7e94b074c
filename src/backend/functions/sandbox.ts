import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LineSplitter } from './output.js';
import { sandboxCommand, sandboxCwd, sandboxEnv, type SandboxOptions } from './deno.js';
import { READY, type RuntimeInput, type RuntimeOutput } from './protocol.js';

/** Bounds on what one invocation may write: its answer, one line of console output, all of its console output. */
export interface OutputLimits {
  answerBytes: number;
  lineBytes: number;
  logBytes: number;
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** How one sandboxed process ended its invocation, as the runner needs to tell it. */
export type Outcome =
  | { kind: 'answer'; output: RuntimeOutput }
  | { kind: 'bad-answer'; reason: string }
  | { kind: 'exit'; exit: Exit; outOfMemory: boolean; stderrTail: string };

const READY_BYTES = Buffer.from(READY);
/** The answer is the function's to shape, so it is checked before the backend acts on it. */
const Answer = z.union([
  z.object({ ok: z.literal(true), status: z.number().int().min(200).max(599), headers: z.array(z.tuple([z.string(), z.string()])), body: z.string() }),
  z.object({ ok: z.literal(true), checked: z.literal(true) }),
  z.object({ ok: z.literal(false), phase: z.enum(['load', 'run', 'memory']), message: z.string(), stack: z.string().optional() }),
]);

/** Hex of 16 random bytes: the answer's mark, unknown to the function. */
const NONCE_CHARS = 32;
/** What V8 prints when the heap limit (or the data rlimit, while it grows the heap) ends the process. */
const OUT_OF_MEMORY = /out of memory|heap limit/i;

/**
 * One Deno process that serves one invocation. It is started ahead of need (a warm spare): `ready`
 * resolves when Deno has booted and waits for its input, and rejects if it ends before that.
 * Its stdout and stderr are pipes read here, line by line: the function's console output goes to
 * the log (bounded), and the answer is the one line that starts with the invocation's nonce.
 */
export class Sandbox {
  readonly ready: Promise<void>;
  readonly outcome: Promise<Outcome>;
  /** Shown with the function's console output. */
  label = '(starting)';
  /** Gets each line of the function's console output too (the functions log of its invocation). */
  onOutput?: (line: string) => void;
  private readonly child: ChildProcess;
  private nonce?: Buffer;
  private answer?: Outcome;
  private logged = 0;
  private outOfMemory = false;
  private seenReady = false;
  private stderrTail: string[] = [];

  constructor(
    options: SandboxOptions,
    private readonly limits: OutputLimits,
    private readonly log: (line: string) => void,
  ) {
    const { file, args } = sandboxCommand(options);
    // stdin, stdout and stderr are pipes; Node opens every other descriptor close-on-exec, so the
    // process inherits none of the server's (the MCP stdio channel among them)
    this.child = spawn(file, args, { env: sandboxEnv(options.runtime), cwd: sandboxCwd(), stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    // a spare must not keep the server alive
    this.child.unref();
    this.child.stdin!.on('error', () => undefined); // the process may be gone before its input is written

    let booted: () => void;
    let failedBoot: (exit: Extract<Outcome, { kind: 'exit' }>) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      booted = resolve;
      failedBoot = reject;
    });
    this.ready.catch(() => undefined); // a spare that failed to boot may never be used
    const stdout = new LineSplitter(
      { max: limits.lineBytes, longMax: limits.answerBytes, headBytes: NONCE_CHARS, isLong: (head) => this.nonce !== undefined && head.equals(this.nonce) },
      (line, truncated) => {
        if (!this.seenReady && line.equals(READY_BYTES)) {
          this.seenReady = true;
          return booted();
        }
        if (this.nonce && line.subarray(0, this.nonce.length).equals(this.nonce)) return this.onAnswer(line.subarray(this.nonce.length), truncated);
        this.output(line, truncated);
      },
    );
    const stderr = new LineSplitter({ max: limits.lineBytes, longMax: limits.lineBytes, headBytes: 1, isLong: () => false }, (line, truncated) => {
      const text = line.toString('utf8');
      if (OUT_OF_MEMORY.test(text)) this.outOfMemory = true;
      this.stderrTail = [...this.stderrTail.slice(-4), text];
      this.output(line, truncated);
    });
    this.child.stdout!.on('data', (d: Buffer) => stdout.push(d));
    this.child.stdout!.on('end', () => stdout.end());
    this.child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    this.child.stderr!.on('end', () => stderr.end());

    this.outcome = new Promise<Outcome>((resolve) => {
      let spawnError: Error | undefined;
      this.child.once('error', (err) => (spawnError = err));
      // 'close' comes after the process ended and its pipes are drained, so an answer is never missed
      this.child.once('close', (code, signal) => {
        const tail = spawnError ? spawnError.message : this.stderrTail.join('\n');
        const ended = { kind: 'exit' as const, exit: { code, signal }, outOfMemory: this.outOfMemory, stderrTail: tail };
        if (!this.seenReady) failedBoot(ended);
        resolve(this.answer ?? ended);
      });
    });
  }

  /** Sends the invocation, with a fresh nonce to mark its answer line. */
  send(input: Omit<RuntimeInput, 'nonce'>): void {
    const nonce = randomBytes(NONCE_CHARS / 2).toString('hex');
    this.nonce = Buffer.from(nonce);
    this.child.stdin!.end(JSON.stringify({ ...input, nonce }));
  }

  /** Ends the process and whatever the function left running in it (timers, sockets). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Whether Deno booted (said READY). */
  get booted(): boolean {
    return this.seenReady;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private onAnswer(json: Buffer, truncated: boolean) {
    if (this.answer) return;
    if (truncated) this.answer = { kind: 'bad-answer', reason: `its response is over ${this.limits.answerBytes} bytes` };
    else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(json.toString('utf8'));
      } catch {
        // only the function's own threads (a Worker it started) can write into the answer line
        parsed = undefined;
      }
      const answer = Answer.safeParse(parsed);
      this.answer = answer.success ? { kind: 'answer', output: answer.data as RuntimeOutput } : { kind: 'bad-answer', reason: 'its answer was garbled (by output written at the same time, or changed globals)' };
    }
    // the answer is in: nothing the function still does matters
    this.kill();
  }

  private output(line: Buffer, truncated: boolean) {
    if (line.length === 0) return;
    if (this.logged >= this.limits.logBytes) return;
    this.logged += line.length;
    if (this.logged >= this.limits.logBytes) return this.log(`function ${this.label}: (further output dropped: over ${this.limits.logBytes} bytes)`);
    const text = `${line.toString('utf8')}${truncated ? ' …(line truncated)' : ''}`;
    this.onOutput?.(text);
    this.log(`function ${this.label}: ${text}`);
  }
}
