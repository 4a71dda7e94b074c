import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startBackend } from '../../src/backend/server.js';

/**
 * A fresh PGlite data dir takes seconds to initialise; an existing one opens in about one.
 * So one is made per run and copied per test file (see backend.ts).
 */
export default async function setup(project: TestProject) {
  // the Inspector CLI lives in devtools/ (see scripts/devtools.mjs): installed once, when missing
  execFileSync(process.execPath, ['scripts/devtools.mjs'], { stdio: 'inherit' });
  const root = await mkdtemp(join(tmpdir(), 'insforge-mcp-test-'));
  const template = join(root, 'template');
  const backend = await startBackend({ dataDir: template, host: '127.0.0.1', port: 0, rateLimit: 100000, adminRateLimit: 1000000, log: () => undefined });
  await backend.close();
  project.provide('templateDataDir', template);
  project.provide('testRoot', root);
  return async () => {
    await rm(root, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
    testRoot: string;
  }
}
