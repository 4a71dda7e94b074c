import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';

/**
 * Where Deno is and how one sandboxed invocation process is started. Deno is InsForge's own
 * functions runtime; it comes from the npm package `deno`, whose binary is in an optional platform
 * package (@deno/linux-x64-glibc, …), like esbuild's. The binary is taken from that package
 * directly, so nothing depends on the `deno` package's install script having run.
 */

/** Why functions cannot run here, said so that the reader can act on it. */
export class DenoUnavailable extends Error {
  constructor(
    message: string,
    readonly nextActions: string,
  ) {
    super(message);
  }
}

const SET_DENO_PATH = 'point --deno-path (INSFORGE_DENO_PATH) at a Deno 2 binary';

/** Deno's npm platform package for this machine, as the `deno` package itself picks it. */
function platformPackage(): string {
  const arch = process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;
  const supported = arch && ['linux', 'darwin', 'win32'].includes(process.platform);
  if (!supported) throw new DenoUnavailable(`Deno's npm package has no binary for ${process.platform}-${process.arch}`, `Install Deno 2 for this machine and ${SET_DENO_PATH}.`);
  if (process.platform !== 'linux') return `@deno/${process.platform}-${arch}`;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (!header?.glibcVersionRuntime) throw new DenoUnavailable("Deno's npm package has no binary for Linux with musl libc (e.g. Alpine)", `Install Deno 2 (e.g. apk add deno) and ${SET_DENO_PATH}.`);
  return `@deno/linux-${arch}-glibc`;
}

/** The Deno binary to run: the configured one, else the npm package's. Throws DenoUnavailable. */
export function findDeno(configured?: string): string {
  const path = configured ?? packagedDeno();
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new DenoUnavailable(`The Deno binary ${path} does not exist or is not executable`, configured ? `Fix --deno-path (INSFORGE_DENO_PATH), or unset it to use the deno npm package.` : `Reinstall insforge-mcp with its optional dependencies, or ${SET_DENO_PATH}.`);
  }
  return path;
}

/** Found once: the platform check reads a process report, which takes milliseconds. */
let packaged: string | undefined;

function packagedDeno(): string {
  if (packaged) return packaged;
  const pkg = platformPackage();
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    throw new DenoUnavailable(`Deno is not installed: the npm package ${pkg} (an optional dependency, through the deno package) is missing`, `Reinstall insforge-mcp with optional dependencies (no --omit=optional / --no-optional), or ${SET_DENO_PATH}.`);
  }
  return (packaged = join(dir, process.platform === 'win32' ? 'deno.exe' : 'deno'));
}

export interface SandboxOptions {
  deno: string;
  /** The bundled runtime (runtime.ts) that Deno runs as its main module. */
  runtime: string;
  /** Hosts the function may connect to, as host:port. */
  allowNet: string[];
  /** V8 heap limit, MiB. */
  heapMb: number;
  /** RLIMIT_DATA in KiB (Linux: heap, array buffers and Deno's own memory), or undefined for none. */
  dataLimitKb?: number;
  /** RLIMIT_CPU in seconds: a backstop should the backend that stops the process be gone. */
  cpuSeconds: number;
}

/**
 * The command line of one invocation process. No --allow-* but the network to the given hosts: no
 * file system, environment, subprocesses, FFI or system information. The deny flags say the same
 * again, so that nothing (a prompt, a later default) can grant them. No npm or remote modules, no
 * config or lock file lookup, no code cache. On POSIX a shell sets the resource limits and execs
 * Deno, so the process is Deno itself; there are no core dumps (a dump would be a file).
 */
export function sandboxCommand(o: SandboxOptions): { file: string; args: string[] } {
  const denoArgs = [
    'run',
    '--no-prompt',
    '--no-config',
    '--no-lock',
    '--no-npm',
    '--no-remote',
    '--no-code-cache',
    `--allow-net=${o.allowNet.join(',')}`,
    '--deny-read',
    '--deny-write',
    '--deny-run',
    '--deny-ffi',
    '--deny-sys',
    '--deny-env',
    '--deny-import',
    `--v8-flags=--max-old-space-size=${o.heapMb}`,
    o.runtime,
  ];
  if (process.platform === 'win32') return { file: o.deno, args: denoArgs };
  const limits = ['ulimit -c 0', `ulimit -t ${o.cpuSeconds}`, ...(o.dataLimitKb ? [`ulimit -d ${o.dataLimitKb}`] : [])];
  return { file: '/bin/sh', args: ['-c', `${limits.join(' && ')} && exec "$@"`, 'sh', o.deno, ...denoArgs] };
}

/**
 * The environment of an invocation process: nothing of the backend's, and only what Deno itself
 * reads. Its cache folder is a path inside the runtime file, which cannot be created: Deno then
 * keeps no cache, and web storage (localStorage, caches) cannot outlive an invocation.
 */
export function sandboxEnv(runtime: string): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_DIR: join(runtime, 'no-cache') };
  // Windows' networking needs its system folder
  if (process.platform === 'win32' && process.env.SystemRoot) env.SystemRoot = process.env.SystemRoot;
  return env;
}

/** The working folder of an invocation process: the file system root, which it cannot read. */
export const sandboxCwd = () => parse(process.cwd()).root;
