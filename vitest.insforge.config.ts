import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:insforge`: the suite against a real InsForge backend (test/insforge), plus the
 * SDK contract suite, which then also runs against that backend and compares the two backends'
 * answers. Needs INSFORGE_BASE_URL, INSFORGE_API_KEY and INSFORGE_ANON_KEY (scripts/test-insforge.mjs).
 */
export default defineConfig({
  plugins: base.plugins,
  test: {
    ...base.test,
    include: ['test/insforge/**/*.test.ts', 'test/e2e/sdk-contract.test.ts'],
    exclude: ['**/node_modules/**'],
    // one real backend, shared by every file: they run one after another
    fileParallelism: false,
    testTimeout: 120_000,
  },
});
