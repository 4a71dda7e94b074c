// Installs devtools/ (the MCP Inspector CLI for the tests, the official @insforge/mcp for the
// benchmark) when it is missing or older than its lockfile. They live apart from the root install
// because the Inspector declares Node >= 22.19 (npm would warn on every `npm install` on Node 20,
// though it runs there) and @insforge/mcp's bin has this project's name (`npx insforge-mcp` in the
// clone would run it instead of this project).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEVTOOLS = join(dirname(fileURLToPath(import.meta.url)), '..', 'devtools');

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
};

export function ensureDevtools() {
  const installed = mtime(join(DEVTOOLS, 'node_modules', '.package-lock.json'));
  if (installed !== undefined && installed >= mtime(join(DEVTOOLS, 'package-lock.json'))) return;
  process.stderr.write('installing devtools/ (MCP Inspector CLI, official @insforge/mcp) for the tests and the benchmark…\n');
  // engine warnings are expected here (see above): only errors are shown
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: DEVTOOLS, stdio: 'inherit' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureDevtools();
