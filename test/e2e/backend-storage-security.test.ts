import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startTestBackend, TEST_ANON_KEY, type TestBackend } from '../support/backend.js';
import { CHROMIUM_INSTALL_HINT, findChromium, launchChromium } from '../support/chromium.js';

/**
 * The storage security suite. Stored XSS, in a real browser: files uploaded with the anon key to a
 * public bucket, each carrying script that would call a listener of this test and retitle the page,
 * are opened by headless Chromium from the backend's origin, directly and embedded. No script may
 * run. Control pages with the same script, served by the listener without the backend's headers,
 * show that the detector sees script that does run. The headers themselves are checked over HTTP
 * on every answer of the object routes, errors included.
 */

const executable = findChromium();
if (!executable && !process.env.CI) process.stderr.write(`backend-storage-browser: skipped, no Chromium found: ${CHROMIUM_INSTALL_HINT}\n`);

/** What a page does when its script runs: calls the listener three ways and changes its title. `url` is JavaScript. */
const beaconTo = (url: string) => `fetch(${url} + '/fetch').catch(() => 0); navigator.sendBeacon(${url} + '/beacon'); new Image().src = ${url} + '/img'; document.title = 'pwned';`;
const beacon = (hitUrl: string) => beaconTo(`'${hitUrl}'`);

interface Attack {
  /** What its script reports to the listener as: `/hit/<name>/…`. */
  name: string;
  key: string;
  /** The type the uploader declares. */
  type: string;
  body: string;
}

/** The uploads, for a listener whose hit URL for a name is hit(name). */
function attacks(hit: (name: string) => string): Attack[] {
  const html = (name: string) => `<!doctype html><html><head><title>original</title></head><body><p>page</p><script>${beacon(hit(name))}</script><img src="x" onerror="${beacon(`${hit(name)}/onerror`).replace(/'/g, '&#39;')}"></body></html>`;
  const xhtml = (name: string) =>
    `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>original</title></head><body><script>//<![CDATA[\n${beacon(hit(name))}\n//]]></script></body></html>`;
  // XML whose root is XHTML is rendered as a page (other roots get the tree viewer): its script runs
  const xmlWithScript = xhtml;
  const svg = (name: string) => `<svg xmlns="http://www.w3.org/2000/svg" onload="${beacon(`${hit(name)}/onload`).replace(/'/g, '&#39;')}"><title>original</title><script>${beacon(hit(name))}</script></svg>`;
  // An XSL's page runs script as the document it styles: that document's name attribute names the hit.
  // Opened directly, Chromium parses an XSL as HTML: value-of stays literal, and the XSL's own name is used.
  const xsl = (name: string) => {
    const named = `((n) => (n && !n.includes('value-of') ? n : '${name}'))('<xsl:value-of select="/doc/@name"/>')`;
    return `<?xml version="1.0"?><xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/"><html><head><title>original</title></head><body><script>${beaconTo(`'${hit('')}' + ${named}`)}</script></body></html></xsl:template></xsl:stylesheet>`;
  };
  const withStylesheet = (name: string, href: string) => `<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="${href}"?><doc name="${name}">data</doc>`;
  const mixedReplace = (name: string) => `--frame\r\nContent-Type: text/html\r\n\r\n${html(name)}\r\n--frame\r\nContent-Type: text/html\r\n\r\n${html(name)}\r\n--frame--\r\n`;
  const make: [key: string, type: string, body: (name: string) => string][] = [
    ['page.html', 'text/html', html],
    ['page-utf8.html', 'text/html; charset=utf-8', html],
    ['page.xhtml', 'application/xhtml+xml', xhtml],
    ['wap.xhtml', 'application/vnd.wap.xhtml+xml', xhtml],
    ['logo.svg', 'image/svg+xml', svg],
    ['doc.xml', 'application/xml', xmlWithScript],
    ['doc-text.xml', 'text/xml', xmlWithScript],
    ['style.xsl', 'text/xsl', xsl],
    ['transform.xsl', 'text/xsl', xsl],
    ['styled.xml', 'application/xml', (n) => withStylesheet(n, 'transform.xsl')],
    ['styled-text.xml', 'text/xml', (n) => withStylesheet(n, 'transform.xsl')],
    ['styled-png.xml', 'image/png', (n) => withStylesheet(n, 'transform.xsl')],
    ['styled-feed.rss', 'application/rss+xml', (n) => withStylesheet(n, 'transform.xsl')],
    ['xslt.xsl', 'application/xslt+xml', xsl],
    ['feed.rss', 'application/rss+xml', xmlWithScript],
    ['feed.atom', 'application/atom+xml', xmlWithScript],
    ['formula.mml', 'application/mathml+xml', xmlWithScript],
    ['data.rdf', 'application/rdf+xml', xmlWithScript],
    ['envelope.xml', 'application/soap+xml', xmlWithScript],
    ['vendor.xml', 'application/vnd.example+xml', xmlWithScript],
    ['sound.xml', 'audio/x-example+xml', xmlWithScript],
    ['film.xml', 'video/x-example+xml', xmlWithScript],
    ['picture.xml', 'image/x-example+xml', xmlWithScript],
    ['text.xml', 'text/x-example+xml', xmlWithScript],
    ['schema.dtd', 'application/xml-dtd', xmlWithScript],
    ['entity.ent', 'text/xml-external-parsed-entity', xmlWithScript],
    ['entity-app.ent', 'application/xml-external-parsed-entity', xmlWithScript],
    ['stream.bin', 'multipart/x-mixed-replace; boundary=frame', mixedReplace],
    ['script.js', 'text/javascript', (n) => beacon(hit(n))],
    ['script.mjs', 'application/javascript', (n) => beacon(hit(n))],
    ['script.es', 'application/ecmascript', (n) => beacon(hit(n))],
    ['data.json', 'application/json', html],
    ['style.css', 'text/css', html],
    ['unknown.thing', 'x-unknown/thing', html],
    ['guessed.html', 'application/octet-stream', html],
    ['movie.swf', 'application/x-shockwave-flash', html],
    ['cache.appcache', 'text/cache-manifest', html],
    // served inline, and still no script: nosniff keeps them what they say they are
    ['plain.txt', 'text/plain', html],
    ['fake.png', 'image/png', html],
    ['fake.mp4', 'video/mp4', html],
  ];
  return make.map(([key, type, body]) => ({ name: key, key, type, body: body(key) }));
}

// a 1×1 PNG and a short silent WAV: what must still show inline
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
function wav(samples = 8000): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 128)]);
}

/** Counted across the suite for its FIGURE line: every attempt, and those the backend withstood. */
const attempts = { tried: 0, held: 0 };
const count = (held: boolean) => {
  attempts.tried++;
  if (held) attempts.held++;
  return held;
};

describe('storage security', () => {
  let b: TestBackend;
  let uploads: Attack[];
  let listenerUrl: string;
  let listener: Server | undefined;
  const hits: string[] = [];
  const controls = new Map<string, { type: string; body: string }>();

  const objectUrl = (key: string) => `${b.url}/api/storage/buckets/public/objects/${encodeURIComponent(key)}`;
  const hitsFor = (name: string) => hits.filter((h) => h.startsWith(`/hit/${name}/`));

  beforeAll(async () => {
    listener = createServer((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/hit/')) {
        hits.push(path);
        res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
        return;
      }
      if (path === '/neutral') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<title>neutral</title>');
      if (path.startsWith('/embed?')) {
        const target = new URL(path, 'http://x').searchParams.get('url')!;
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>neutral</title><iframe src="${target}"></iframe><object data="${target}"></object><embed src="${target}">`);
        return;
      }
      const control = controls.get(path);
      if (control) return void res.writeHead(200, { 'content-type': control.type }).end(control.body);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => listener!.listen(0, '127.0.0.1', resolve));
    listenerUrl = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;

    b = await startTestBackend('pglite');
    expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'public', isPublic: true } })).status).toBe(201);
    expect((await b.api('/api/storage/buckets', { method: 'POST', json: { bucketName: 'private', isPublic: false } })).status).toBe(201);
    uploads = attacks((name) => `${listenerUrl}/hit/${name}`);
    const upload = async (key: string, type: string, body: string | Buffer) => {
      const fd = new FormData();
      fd.append('file', new Blob([body], { type }), key);
      // the anon key, as an attacker with only the app's public key would
      const res = await fetch(objectUrl(key), { method: 'PUT', headers: { apikey: TEST_ANON_KEY }, body: fd });
      expect(res.status, key).toBe(200);
      // stored as the uploader said (a generic type is guessed from the key; busboy keeps no parameters)
      expect(((await res.json()) as { mimeType: string }).mimeType).toBe(type === 'application/octet-stream' ? 'text/html' : type.split(';')[0]);
    };
    for (const u of uploads) await upload(u.key, u.type, u.body);
    await upload('dot.png', 'image/png', PNG);
    await upload('tone.wav', 'audio/wav', wav());
    // the same script, served by the listener as a page: it must run there
    const control = attacks((name) => `${listenerUrl}/hit/control-${name}`);
    controls.set('/control/html', { type: 'text/html', body: control.find((u) => u.key === 'page.html')!.body });
    controls.set('/control/svg', { type: 'image/svg+xml', body: control.find((u) => u.key === 'logo.svg')!.body });
  });

  afterAll(async () => {
    await b?.close();
    await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
    process.stderr.write(`FIGURE storage-security: attempts tried ${attempts.tried}, held ${attempts.held}\n`);
  });

  describe('headers on every answer of the object routes', () => {
    const SANDBOX = /(^|;)\s*sandbox\s*(;|$)/;

    it('downloads: only passive types inline; everything else an attachment named for its key; nosniff and a CSP sandbox on all', async () => {
      const failures: string[] = [];
      for (const u of uploads) {
        for (const method of ['GET', 'HEAD']) {
          const res = await fetch(objectUrl(u.key), { method });
          const inline = ['text/plain', 'image/png', 'video/mp4'].includes(u.type);
          const disposition = res.headers.get('content-disposition');
          const ok =
            res.status === 200 &&
            res.headers.get('x-content-type-options') === 'nosniff' &&
            SANDBOX.test(res.headers.get('content-security-policy') ?? '') &&
            (inline ? disposition === null : disposition === `attachment; filename="${u.key}"; filename*=UTF-8''${encodeURIComponent(u.key)}`);
          if (!count(ok)) failures.push(`${method} ${u.key} (${u.type}): ${res.status} ${disposition} ${res.headers.get('content-security-policy')}`);
          await res.arrayBuffer();
        }
      }
      expect(failures).toEqual([]);
    });

    it("an attachment keeps its key's last segment as its name: an ASCII fallback and filename* (RFC 8187)", async () => {
      const key = "rapport/été (1) it's *x* \"q\".html";
      const fd = new FormData();
      fd.append('file', new Blob(['<b>x</b>'], { type: 'text/html' }), 'x.html');
      expect((await fetch(objectUrl(key), { method: 'PUT', headers: { apikey: TEST_ANON_KEY }, body: fd })).status).toBe(200);
      const res = await fetch(objectUrl(key));
      const disposition = res.headers.get('content-disposition') ?? '';
      expect(disposition).toBe(`attachment; filename="_t_ (1) it's *x* _q_.html"; filename*=UTF-8''%C3%A9t%C3%A9%20%281%29%20it%27s%20%2Ax%2A%20%22q%22.html`);
      count(true);
      await res.arrayBuffer();
    });

    it('errors on object routes carry nosniff and the sandbox too', async () => {
      const base = `${b.url}/api/storage/buckets`;
      const cases: [string, RequestInit, number][] = [
        [`${base}/public/objects/missing.html`, {}, 404],
        [`${base}/private/objects/x.html`, {}, 401],
        [`${base}/private/objects/x.html`, { headers: { apikey: TEST_ANON_KEY } }, 403],
        [`${base}/public/objects/${encodeURIComponent('../x')}`, {}, 400],
        [`${base}/public/objects/page.html`, { headers: { range: 'bytes=100000-' } }, 416],
        [`${base}/public/objects/page.html`, { headers: { authorization: 'Bearer not-a-token' } }, 401],
        [`${base}/nope/objects/x`, {}, 404],
        [`${base}/public/objects/x.html`, { method: 'PUT', headers: { apikey: TEST_ANON_KEY, 'content-type': 'text/html' }, body: '<script>1</script>' }, 400],
        [`${b.url}/api/storage/nowhere/${encodeURIComponent('<script>')}`, {}, 404],
      ];
      const failures: string[] = [];
      for (const [url, init, status] of cases) {
        const res = await fetch(url, init);
        const ok = res.status === status && res.headers.get('x-content-type-options') === 'nosniff' && SANDBOX.test(res.headers.get('content-security-policy') ?? '');
        if (!count(ok)) failures.push(`${init.method ?? 'GET'} ${url}: ${res.status} ${res.headers.get('content-security-policy')}`);
        await res.arrayBuffer();
      }
      expect(failures).toEqual([]);
    });
  });

  describe.runIf(executable || process.env.CI)('in headless Chromium', () => {
    let browser: { context: BrowserContext; close: () => Promise<void> };

    /**
     * Opens url in a tab that first showed a neutral page; returns the title it ends with. Script in
     * a page runs before its load event, so the title tells at once; beacons are waited for later.
     */
    async function visit(url: string, page?: Page): Promise<{ title: string; page: Page }> {
      page ??= await browser.context.newPage();
      await page.goto(`${listenerUrl}/neutral`);
      // an attachment is a download: the navigation is aborted and the tab stays on the neutral page
      await page.goto(url, { waitUntil: 'load', timeout: 10_000 }).catch((err: Error) => {
        if (!/Download is starting|net::ERR_ABORTED/.test(err.message)) throw err;
      });
      return { title: await page.title(), page };
    }
    const lateBeacons = () => new Promise((r) => setTimeout(r, 1500));

    beforeAll(async () => {
      if (!executable) throw new Error(`No Chromium for the browser test: ${CHROMIUM_INSTALL_HINT}`);
      browser = await launchChromium(executable);
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('control: the same script served as a page without the backend headers runs, and is seen', async () => {
      for (const [path, name] of [
        ['/control/html', 'control-page.html'],
        ['/control/svg', 'control-logo.svg'],
      ] as const) {
        const { title, page } = await visit(`${listenerUrl}${path}`);
        await expect.poll(() => hitsFor(name).length, { timeout: 5000 }).toBeGreaterThan(0);
        if (path === '/control/html') expect(title).toBe('pwned');
        await page.close();
      }
    });

    it('opened directly: no upload runs script, none retitles the page', async () => {
      const titles = new Map<string, string>();
      const page = await browser.context.newPage();
      for (const u of uploads) titles.set(u.key, (await visit(objectUrl(u.key), page)).title);
      await page.close();
      await lateBeacons();
      const ran = uploads.filter((u) => !count(titles.get(u.key) !== 'pwned' && hitsFor(u.name).length === 0));
      expect(ran.map((u) => `${u.key} (${u.type}): title ${titles.get(u.key)}, hits ${hitsFor(u.name).join(' ')}`)).toEqual([]);
      expect(hits.filter((h) => !h.startsWith('/hit/control-'))).toEqual([]); // nor any hit no upload claims
    });

    it('embedded by a page of another origin (iframe, object, embed): no upload runs script', async () => {
      // the control first: the same embedding page does run script of a page served without the headers
      const seen = hitsFor('control-page.html').length;
      const control = await visit(`${listenerUrl}/embed?url=${encodeURIComponent(`${listenerUrl}/control/html`)}`);
      await expect.poll(() => hitsFor('control-page.html').length, { timeout: 5000 }).toBeGreaterThan(seen);
      await control.page.close();
      const page = await browser.context.newPage();
      for (const u of uploads) await visit(`${listenerUrl}/embed?url=${encodeURIComponent(objectUrl(u.key))}`, page);
      await page.close();
      await lateBeacons();
      const ran = uploads.filter((u) => !count(hitsFor(u.name).length === 0));
      expect(ran.map((u) => `${u.key} (${u.type}): ${hitsFor(u.name).join(' ')}`)).toEqual([]);
      expect(hits.filter((h) => !h.startsWith('/hit/control-'))).toEqual([]);
    });

    it('passive types still show inline under the sandbox: an image renders, a sound loads, text reads as text', async () => {
      const image = await visit(objectUrl('dot.png'));
      expect(await image.page.evaluate('document.images[0]?.naturalWidth')).toBe(1);
      await image.page.close();

      const sound = await visit(objectUrl('tone.wav'));
      // page code, as a string: this project's TypeScript has no DOM types
      const media = () => sound.page.evaluate<{ readyState: number; error: number | null } | undefined>(`(() => {
        const el = document.querySelector('video, audio');
        return el ? { readyState: el.readyState, error: el.error ? el.error.code : null } : undefined;
      })()`);
      await expect.poll(async () => (await media())?.readyState ?? 0, { timeout: 5000 }).toBeGreaterThan(0);
      expect((await media())?.error).toBeNull();
      await sound.page.close();

      const text = await visit(objectUrl('plain.txt'));
      expect(await text.page.evaluate<string>('document.body.innerText')).toContain('<script>');
      await text.page.close();
    });
  });
});
