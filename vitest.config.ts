import { defineConfig, type Plugin } from 'vitest/config';

/** src/docs/*.md imported as text, as the build's esbuild text loader does. */
const markdownAsText: Plugin = { name: 'markdown-as-text', transform: (code, id) => (id.endsWith('.md') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined) };

/** The real-backend suite (test/insforge) joins the default run only when a real backend is configured. */
const realBackend = Boolean(process.env.INSFORGE_BASE_URL && process.env.INSFORGE_API_KEY && process.env.INSFORGE_ANON_KEY);

export default defineConfig({
  plugins: [markdownAsText],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(realBackend ? [] : ['test/insforge/**'])],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two cores: more workers only make PGlite start-ups fight each other
    maxWorkers: 2,
    reporters: ['default'],
  },
});
