import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { VERSION } from '../../src/version.js';
import { serverEnv } from '../support/mcp.js';

const run = promisify(execFile);

/** Runs a command; resolves with its exit code and both streams (it never rejects on a non-zero exit). */
async function sh(cwd: string, file: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// npm settings of this process (npm_config_* from `npm test`) must not leak into the newcomer's npm
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));

/**
 * What a newcomer does: clone, `npm install`, run the bin; and what a user of the package gets:
 * `npm pack`, install the tarball into an empty folder, run its bin. Clones the committed HEAD.
 * Slow (two npm installs, from npm's cache where it can): one test, run once per suite.
 */
describe('a fresh clone', () => {
  let root: string;
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('installs with a built dist/ and no engine warnings, packs the build, and the packed package runs', { timeout: 900_000 }, async () => {
    root = await mkdtemp(join(tmpdir(), 'insforge-mcp-clone-'));
    const clone = join(root, 'clone');
    const env = cleanEnv();
    const cloned = await sh(root, 'git', ['clone', '--quiet', process.cwd(), clone]);
    expect(cloned.code, cloned.stderr).toBe(0);

    const install = await sh(clone, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], env);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr + install.stdout).not.toContain('EBADENGINE');

    // the prepare build: the bin works right after npm install
    const help = await sh(clone, process.execPath, ['dist/cli.js', '--help'], env);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: insforge-mcp');
    // inside the clone, npx runs this project's bin (not the official server's, which has the same name)
    const npx = await sh(clone, 'npx', ['--no-install', 'insforge-mcp', '--version'], env);
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe(VERSION);

    const pack = await sh(clone, 'npm', ['pack', '--json', '--pack-destination', root], env);
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/cli.js', 'dist/pglite-worker.js', 'dist/functions-runtime.js', 'README.md', 'mcp.json.example', 'package.json']));
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('devtools/'))).toEqual([]);

    // a user's empty folder: the tarball's own dependencies only
    const user = join(root, 'user');
    await mkdir(user);
    await writeFile(join(user, 'package.json'), '{"name": "newcomer-app", "private": true}\n');
    const installed = await sh(user, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(root, packed!.filename)], env);
    expect(installed.code, installed.stderr).toBe(0);
    expect(await readdir(join(user, 'node_modules', '.bin'))).toContain('insforge-mcp');
    const version = await sh(user, join(user, 'node_modules', '.bin', 'insforge-mcp'), ['--version'], env);
    expect(version.stdout.trim()).toBe(VERSION);

    // and it serves: the embedded backend (PGlite, Fastify: loaded from the installed dependencies) answers a tool call
    const dataDir = join(root, 'data');
    const transport = new StdioClientTransport({ command: join(user, 'node_modules', '.bin', 'insforge-mcp'), args: ['--data-dir', dataDir], env: serverEnv(), cwd: user, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d) => (stderr += d));
    const client = new Client({ name: 'newcomer', version: '1.0.0' });
    await client.connect(transport);
    try {
      // a first start creates the database: more than the SDK's default 60 s on a busy machine
      const result = await client.callTool({ name: 'get-backend-metadata', arguments: {} }, undefined, { timeout: 300_000 });
      expect(result.isError, `${JSON.stringify(result.content)}\n${stderr}`).toBeFalsy();
      expect((result.structuredContent as { backend: { url: string } }).backend.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await client.close();
    }
  });
});
