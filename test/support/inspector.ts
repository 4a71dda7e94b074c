/**
 * Drive the MCP Inspector CLI (@modelcontextprotocol/inspector v2, `mcp-inspector --cli`)
 * against a stdio MCP server, for e2e tests.
 *
 *   const r = await inspectorCli(["node", "dist/cli.js"], ["--method", "tools/list"]);
 *   const r = await inspectorCli(["node", "dist/cli.js"], [
 *     "--method", "tools/call", "--tool-name", "query",
 *     "--tool-args-json", JSON.stringify({ sql: "select 1", params: [1, "a"] }),
 *   ], { DATABASE_URL: url });
 *
 * Spawned as: node <inspector>/clients/launcher/build/index.js --cli --format json <args> -- <serverCommand...>
 *
 * - `--format json` is added unless `args` already has `--format`; then stdout is ONE JSON
 *   object `{"result": …}` (the MCP result) and `json` holds it parsed.
 * - Exit codes: 0 ok, 1 usage/connection/other error, 5 tool error (`isError: true` result,
 *   unknown tool, or the tool threw); the CLI then also writes `{"error":{"code","message"}}`
 *   on stderr (for isError the result is still printed on stdout).
 * - The stdio server does NOT inherit this process's environment (only HOME, PATH, SHELL,
 *   TERM, USER, LOGNAME): `env` entries are passed to the server as `-e KEY=VALUE`
 *   (the CLI rejects an empty VALUE).
 * - After the call the CLI closes the server's stdin, sends SIGTERM 2 s later and SIGKILL 2 s
 *   after that, then exits. A server that doesn't exit promptly on stdin EOF makes every call
 *   take ~4 s longer and is killed -9 (stale lock files etc.).
 * - `--tool-arg k=v` JSON-parses each value (`n=5` → 5, `a=[1,2]` → array, `s=123` → number!);
 *   prefer `--tool-args-json '<object>'` for exact values.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { join } from "node:path";

/**
 * Absolute path of the `mcp-inspector` launcher (the package's bin). The Inspector is installed in
 * devtools/, not the root (it declares Node >= 22.19): test/support/global-setup.ts installs it.
 */
export const INSPECTOR_LAUNCHER = join(process.cwd(), "devtools/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");

export interface InspectorResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON, when it is valid JSON. */
  json?: unknown;
}

export interface InspectorOptions {
  /** Kill the inspector (and thus the server) after this many ms. Default 60000. */
  timeoutMs?: number;
  /** Working directory for the inspector process (and the server). Default process.cwd(). */
  cwd?: string;
}

export async function inspectorCli(
  serverCommand: string[],
  args: string[],
  env?: Record<string, string>,
  options: InspectorOptions = {},
): Promise<InspectorResult> {
  if (serverCommand.length === 0) throw new Error("inspectorCli: serverCommand is empty");
  const envArgs = Object.entries(env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const hasFormat = args.some((a) => a === "--format" || a.startsWith("--format="));
  const formatArgs = hasFormat ? [] : ["--format", "json"];
  const argv = [INSPECTOR_LAUNCHER, "--cli", ...formatArgs, ...envArgs, ...args, "--", ...serverCommand];
  const timeoutMs = options.timeoutMs ?? 60_000;

  return await new Promise<InspectorResult>((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group, so a timeout can kill the inspector AND the server it spawned
      // (the server shares our stdout/stderr pipes; if it survived, "close" would never fire).
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n[inspectorCli] killed after ${timeoutMs}ms timeout`;
      const signo = signal ? (constants.signals[signal] ?? 0) : 0;
      const result: InspectorResult = { code: code ?? (signal ? 128 + signo : 1), stdout, stderr };
      const text = stdout.trim();
      if (text) {
        try {
          result.json = JSON.parse(text);
        } catch {
          // not JSON (e.g. --format text with a non-JSON payload); leave json undefined
        }
      }
      resolve(result);
    });
  });
}
