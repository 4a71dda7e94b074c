import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS, freshDataDir, sql, startTestBackend, TEST_ANON_KEY, TEST_API_KEY, type TestBackend } from '../support/backend.js';
import { spawnCliBackend } from '../support/mcp.js';

/** The seed's hello-world, as an ES module with a web-standard default export. */
const HELLO_ESM = `
export default async function (req) {
  const { name } = await req.json();
  return new Response(JSON.stringify({ message: \`Hello, \${name}!\`, timestamp: new Date().toISOString() }), {
    headers: { 'Content-Type': 'application/json' },
  });
}`;

/** The same function in InsForge's own form. */
const HELLO_INSFORGE = `
module.exports = async function (request) {
  const { name } = await request.json();
  return new Response(JSON.stringify({ message: 'Hello, ' + name + '!', timestamp: new Date().toISOString() }), {
    headers: { 'Content-Type': 'application/json' },
  });
};`;

/** InsForge's example functions, from its source beside this repository (../shared/insforge). */
const INSFORGE_EXAMPLES = join(process.cwd(), '../shared/insforge/src/functions/examples');

const SEED_RESPONSE = { message: 'Hello, World!', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) };

// V8's last garbage collections near the heap limit take seconds on a busy machine before it gives up
const LIMITS = { functionTimeoutMs: 10_000, functionMemoryMb: 32 };

describe.each(DB_KINDS)('functions on %s', (kind) => {
  let b: TestBackend;
  const logs: string[] = [];
  const backendOptions = { ...LIMITS, log: (m: string) => logs.push(m) };

  const deploy = async (slug: string, code: string, extra: Record<string, unknown> = {}) => {
    const res = await b.api('/api/functions', { method: 'POST', json: { name: slug, slug, code, ...extra } });
    expect(res.status, res.text).toBe(201);
    return res.json;
  };
  /** The seed's curl: POST /api/functions/{slug} with a key and a JSON body. */
  const invoke = (slug: string, json: unknown = {}, key: 'admin' | 'anon' | 'none' = 'anon') =>
    b.api(`/api/functions/${slug}`, { method: 'POST', key: 'none', headers: key === 'none' ? {} : { authorization: `Bearer ${key === 'admin' ? TEST_API_KEY : TEST_ANON_KEY}` }, json });

  beforeAll(async () => {
    b = await startTestBackend(kind, { backend: backendOptions });
    await sql(
      b,
      `create table notes (id serial primary key, body text not null, public boolean not null default false);
       alter table notes enable row level security;
       create policy notes_public on notes for select to anon using (public);
       insert into notes (body, public) values ('open', true), ('secret', false);`,
    );
  });
  afterAll(async () => {
    await b?.close();
  });

  it('seed: deploys hello-world as an ES module and invokes it with POST /api/functions/{slug}', async () => {
    const created = await deploy('hello-world', HELLO_ESM, { name: 'Hello World', description: 'says hello' });
    expect(created).toEqual({
      success: true,
      function: {
        id: expect.any(String),
        slug: 'hello-world',
        name: 'Hello World',
        description: 'says hello',
        code: HELLO_ESM,
        status: 'active',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        deployedAt: expect.any(String),
      },
      deployment: null,
    });
    const res = await invoke('hello-world', { name: 'World' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.json).toEqual(SEED_RESPONSE);
  });

  it("seed: the same function in InsForge's module.exports form, also at v2's open /functions/{slug}", async () => {
    await deploy('hello-insforge', HELLO_INSFORGE);
    expect((await invoke('hello-insforge', { name: 'World' })).json).toEqual(SEED_RESPONSE);
    const open = await b.api('/functions/hello-insforge', { method: 'POST', key: 'none', json: { name: 'World' } });
    expect(open.status).toBe(200);
    expect(open.json).toEqual(SEED_RESPONSE);
  });

  it("InsForge's own example functions run unchanged (createClient, INSFORGE_INTERNAL_URL, Deno.env.get)", async () => {
    const example = (name: string) => readFileSync(join(INSFORGE_EXAMPLES, name), 'utf8');
    await deploy('demo-hello-world', example('demo-hello-world.js'));
    const hello = await b.api('/functions/demo-hello-world?name=Gary', { key: 'none' });
    expect(hello.status).toBe(200);
    expect(hello.json).toMatchObject({ message: 'Hello, Gary!', method: 'GET', path: '/functions/demo-hello-world' });

    await deploy('demo-whoami', example('demo-whoami.js'));
    const signup = await b.api('/api/auth/signup', { method: 'POST', key: 'anon', json: { email: 'whoami@example.com', password: 'a-long-password-1' } });
    const me = await b.api('/functions/demo-whoami', { key: 'none', headers: { authorization: `Bearer ${signup.json.accessToken}` } });
    expect(me.status, me.text).toBe(200);
    // (the example also shows created_at, which the SDK's getCurrentUser does not return from this backend)
    expect(me.json).toMatchObject({ user: { id: signup.json.user.id, email: 'whoami@example.com' } });
    expect((await b.api('/functions/demo-whoami', { key: 'none' })).status).toBe(401);
  });

  it('gives the function the request as sent and returns its status, headers and body as they are', async () => {
    await deploy(
      'echo',
      `export default async (req) => {
        const url = new URL(req.url);
        const body = await req.text();
        return new Response(JSON.stringify({ method: req.method, path: url.pathname, q: url.searchParams.get('q'),
          custom: req.headers.get('x-custom'), type: req.headers.get('content-type'), body }),
          { status: 201, headers: { 'content-type': 'application/json', 'x-fn': 'yes' } });
      }`,
    );
    const res = await b.api('/functions/echo?q=1', { method: 'PUT', key: 'none', headers: { 'x-custom': 'v', 'content-type': 'text/csv' }, body: 'a,b\n1,2' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-fn')).toBe('yes');
    expect(res.json).toEqual({ method: 'PUT', path: '/functions/echo', q: '1', custom: 'v', type: 'text/csv', body: 'a,b\n1,2' });
    const get = await b.api('/functions/echo', { method: 'GET', key: 'none' });
    expect(get.json).toMatchObject({ method: 'GET', body: '' });
  });

  it('answers even when the function replaced JSON.stringify', async () => {
    await deploy('rude', `export default () => { JSON.stringify = () => 'not json'; return new Response('fine', { status: 202 }); }`);
    const res = await b.api('/functions/rude', { key: 'none' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('fine');
  });

  it('returns binary bodies byte for byte', async () => {
    await deploy('bytes', `export default () => new Response(new Uint8Array([0, 255, 137, 80, 78, 71]), { headers: { 'content-type': 'application/octet-stream' } })`);
    const res = await fetch(`${b.url}/functions/bytes`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([0, 255, 137, 80, 78, 71]));
  });

  it("calls the backend with the caller's own token: row-level security applies to it", async () => {
    await deploy(
      'read-notes',
      `module.exports = async function (request) {
        const base = Deno.env.get('INSFORGE_BASE_URL');
        const token = Deno.env.get('INSFORGE_TOKEN');
        const res = await fetch(base + '/api/db/notes?select=body&order=body', { headers: { Authorization: 'Bearer ' + token } });
        return Response.json({ status: res.status, rows: await res.json(), forwarded: request.headers.get('authorization') === 'Bearer ' + token,
          globals: INSFORGE_BASE_URL === base && INSFORGE_TOKEN === token });
      };`,
    );
    const asAnon = await invoke('read-notes', {}, 'anon');
    expect(asAnon.json).toEqual({ status: 200, rows: [{ body: 'open' }], forwarded: true, globals: true });
    const asAdmin = await invoke('read-notes', {}, 'admin');
    expect(asAdmin.json).toEqual({ status: 200, rows: [{ body: 'open' }, { body: 'secret' }], forwarded: true, globals: true });
  });

  it("sees only its own variables, not the backend's environment; console output goes to the log", async () => {
    await deploy('env', `export default () => { console.log('hello from a function'); return Response.json(Object.keys(process.env).sort()); }`);
    const res = await b.api('/functions/env', { key: 'none', headers: { authorization: `Bearer ${TEST_ANON_KEY}` } });
    // InsForge's own names for the backend and its anon key, and the caller's credential
    expect(res.json).toEqual(['ANON_KEY', 'INSFORGE_BASE_URL', 'INSFORGE_INTERNAL_URL', 'INSFORGE_TOKEN']);
    await expect.poll(() => logs.some((l) => l === 'function env: hello from a function')).toBe(true);
  });

  it('a throw → 500 FUNCTION_ERROR with the message and where in the function', async () => {
    await deploy('thrower', `export default async () => {\n  throw new Error('kaboom');\n}`);
    const res = await invoke('thrower');
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ statusCode: 500, error: 'FUNCTION_ERROR', message: 'kaboom', details: expect.stringContaining('functions/thrower.js:2:9') });
    // the same in the CommonJS form, lines counted from the function's own first line
    await deploy('thrower-cjs', `module.exports = async () => {\n  null.x;\n};`);
    const cjs = await invoke('thrower-cjs');
    expect(cjs.json).toMatchObject({ error: 'FUNCTION_ERROR', details: expect.stringContaining('functions/thrower-cjs.js:2:') });
  });

  it('an endless loop → 504 FUNCTION_TIMEOUT, and the next invocation works', async () => {
    await deploy('spin', `export default async () => { for (;;) {} }`);
    const started = Date.now();
    const res = await invoke('spin');
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({ error: 'FUNCTION_TIMEOUT', nextActions: expect.stringContaining('INSFORGE_FUNCTION_TIMEOUT_MS') });
    expect(Date.now() - started).toBeLessThan(LIMITS.functionTimeoutMs + 3000);
    expect((await invoke('hello-world', { name: 'World' })).json).toEqual(SEED_RESPONSE);
  });

  it('an allocation bomb → 500 FUNCTION_OUT_OF_MEMORY, and the next invocation works', async () => {
    // big arrays of numbers: V8's last collections before it gives up have little to trace, so on a
    // busy machine the heap limit, not the time limit, still ends it
    await deploy('hog', `export default async () => { const keep = []; for (;;) keep.push(new Array(1 << 20).fill(Math.random())); }`);
    const res = await invoke('hog');
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ error: 'FUNCTION_OUT_OF_MEMORY', message: expect.stringContaining('32 MB') });
    expect((await invoke('hello-world', { name: 'World' })).json).toEqual(SEED_RESPONSE);
    expect((await b.api('/api/db/notes?select=body', { key: 'anon' })).json).toEqual([{ body: 'open' }]);
  });

  it('invocation needs a key on /api/functions/{slug}; /functions/{slug} is open', async () => {
    const res = await invoke('hello-world', { name: 'World' }, 'none');
    expect(res.status).toBe(401);
    expect((await b.api('/functions/hello-world', { method: 'POST', key: 'none', json: { name: 'World' } })).status).toBe(200);
  });

  it('unknown and draft functions → 404 FUNCTION_NOT_FOUND; a draft goes live when set active', async () => {
    expect((await invoke('nope')).json).toMatchObject({ statusCode: 404, error: 'FUNCTION_NOT_FOUND' });
    // a draft is stored even when its code does not load yet
    const draft = await deploy('later', 'export default 42', { status: 'draft' });
    expect(draft.function).toMatchObject({ status: 'draft', deployedAt: null });
    expect((await b.api('/functions/later', { method: 'POST', key: 'none' })).status).toBe(404);
    const broken = await b.api('/api/functions/later', { method: 'PUT', json: { status: 'active' } });
    expect(broken.status).toBe(400);
    expect(broken.json).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringContaining('no handler') });
    const live = await b.api('/api/functions/later', { method: 'PUT', json: { status: 'active', code: HELLO_ESM } });
    expect(live.status).toBe(200);
    expect(live.json.function).toMatchObject({ status: 'active', deployedAt: expect.any(String) });
    expect((await invoke('later', { name: 'World' })).json).toEqual(SEED_RESPONSE);
  });

  describe('admin CRUD at the v2 paths', () => {
    it('lists without code, gets with code, updates, deletes', async () => {
      const list = await b.api('/api/functions');
      expect(list.status).toBe(200);
      expect(list.json).toMatchObject({ runtime: { status: 'running' }, deploymentUrl: null });
      const hello = list.json.functions.find((f: { slug: string }) => f.slug === 'hello-world');
      expect(hello).toMatchObject({ slug: 'hello-world', name: 'Hello World', status: 'active' });
      expect(hello).not.toHaveProperty('code');
      const metadata = await b.api('/api/metadata');
      expect(metadata.json.functions).toContainEqual(expect.objectContaining({ slug: 'hello-world', status: 'active' }));

      expect((await b.api('/api/functions/hello-world')).json).toMatchObject({ slug: 'hello-world', code: HELLO_ESM });

      await deploy('temp', HELLO_ESM);
      const updated = await b.api('/api/functions/temp', { method: 'PUT', json: { description: 'now with a description', code: HELLO_INSFORGE } });
      expect(updated.json).toMatchObject({ success: true, function: { slug: 'temp', description: 'now with a description', code: HELLO_INSFORGE }, deployment: null });
      expect((await invoke('temp', { name: 'World' })).json).toEqual(SEED_RESPONSE);

      const deleted = await b.api('/api/functions/temp', { method: 'DELETE' });
      expect(deleted.json).toEqual({ success: true, message: 'Function temp deleted successfully' });
      expect((await b.api('/api/functions/temp')).status).toBe(404);
      expect((await b.api('/api/functions/temp', { method: 'DELETE' })).json).toMatchObject({ error: 'FUNCTION_NOT_FOUND' });
      expect((await b.api('/api/functions/temp', { method: 'PUT', json: { name: 'x' } })).status).toBe(404);
      expect((await invoke('temp')).status).toBe(404);
    });

    it('derives the slug from the name when none is given', async () => {
      const res = await b.api('/api/functions', { method: 'POST', json: { name: 'Send Welcome Email', code: HELLO_ESM } });
      expect(res.status).toBe(201);
      expect(res.json.function.slug).toBe('send-welcome-email');
    });

    it('refuses duplicates, bad slugs, the reserved slug, missing fields and code that does not load', async () => {
      const dup = await b.api('/api/functions', { method: 'POST', json: { name: 'again', slug: 'hello-world', code: HELLO_ESM } });
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({ error: 'FUNCTION_ALREADY_EXISTS' });
      const badSlug = await b.api('/api/functions', { method: 'POST', json: { name: 'x', slug: 'no spaces/please', code: HELLO_ESM } });
      expect(badSlug.status).toBe(400);
      expect(badSlug.json).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringContaining('slug') });
      const reserved = await b.api('/api/functions', { method: 'POST', json: { name: 'health', code: HELLO_ESM } });
      expect(reserved.status).toBe(400);
      expect(reserved.json).toMatchObject({ error: 'FUNCTION_SLUG_RESERVED' });
      const noCode = await b.api('/api/functions', { method: 'POST', json: { name: 'x' } });
      expect(noCode.status).toBe(400);
      expect(noCode.json.message).toContain('code');
      const syntax = await b.api('/api/functions', { method: 'POST', json: { name: 'broken', code: 'export default async (req) => {' } });
      expect(syntax.status).toBe(400);
      expect(syntax.json).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringMatching(/^code: /) });
      expect((await b.api('/api/functions/broken')).status).toBe(404);
    });

    it('is admin only', async () => {
      expect((await b.api('/api/functions', { key: 'anon' })).status).toBe(401);
      expect((await b.api('/api/functions', { key: 'none' })).status).toBe(401);
      expect((await b.api('/api/functions/hello-world', { key: 'anon' })).status).toBe(401);
      expect((await b.api('/api/functions', { method: 'POST', key: 'anon', json: { name: 'x', code: HELLO_ESM } })).status).toBe(401);
      expect((await b.api('/api/functions/hello-world', { method: 'DELETE', key: 'anon' })).status).toBe(401);
    });
  });

  it('functions persist across a backend restart', async () => {
    const { dataDir, databaseUrl } = b;
    await b.close();
    b = await startTestBackend(kind, { dataDir, backend: { ...backendOptions, databaseUrl } });
    expect((await invoke('hello-world', { name: 'World' })).json).toEqual(SEED_RESPONSE);
    expect((await b.api('/api/functions/hello-insforge')).json).toMatchObject({ code: HELLO_INSFORGE });
  });
});

describe('functions in the built CLI (dist/cli.js backend)', () => {
  it('deploys and invokes through HTTP, Deno running dist/functions-runtime.js', async () => {
    const { url, stop } = await spawnCliBackend(['--data-dir', await freshDataDir(), '--api-key', TEST_API_KEY, '--anon-key', TEST_ANON_KEY, '--function-timeout-ms', '3000']);
    try {
      const admin = { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' };
      const created = await fetch(`${url}/api/functions`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'hello-world', code: HELLO_INSFORGE }) });
      expect(created.status).toBe(201);
      const res = await fetch(`${url}/api/functions/hello-world`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ANON_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'World' }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(SEED_RESPONSE);

      await fetch(`${url}/api/functions`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'spin', code: 'export default () => { for (;;) {} }' }) });
      const spin = await fetch(`${url}/functions/spin`);
      expect(spin.status).toBe(504);
      const again = await fetch(`${url}/functions/hello-world`, { method: 'POST', body: JSON.stringify({ name: 'World' }), headers: { 'content-type': 'application/json' } });
      expect(await again.json()).toEqual(SEED_RESPONSE);
    } finally {
      await stop();
    }
  });
});
