import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, serverEnv } from './mcp.js';

/** The built bin's `backend` command as a child process (to kill it, say): resolves with its URL once it listens. */
export async function startBackendChild(args: string[], env: Record<string, string> = serverEnv()): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'backend', '--port', '0', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`backend did not start:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /backend ready at (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`backend exited ${code}:\n${stderr}`)));
  });
  return { url, child, stderr: () => stderr };
}
