import { join, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBucketName, checkKey, generateKey, keyProblem, objectPath } from '../../src/backend/storage/keys.js';
import { chooseMimeType, inlineContentType, notModified, requestedRange } from '../../src/backend/storage/http.js';
import { TRAVERSAL_KEYS } from '../support/traversal-keys.js';

describe('object keys', () => {
  it.each(TRAVERSAL_KEYS)('refuses %s', (_name, key, why) => {
    expect(keyProblem(key)).toContain(why);
    expect(() => checkKey(key)).toThrow(expect.objectContaining({ statusCode: 400, error: 'STORAGE_INVALID_PARAMETER' }));
    expect(() => objectPath('/data/storage/b', key)).toThrow(expect.objectContaining({ statusCode: 400 }));
  });

  it.each([
    'avatar.jpg',
    'user/123/avatar.jpg',
    '.hidden',
    'a/.b/..c/c..',
    'a..b',
    'weird name (1).txt',
    'ab:c.txt',
    '2026-01-01T10:00:00.json',
    '%2e%2e', // already decoded: a literal file name, not a traversal
    '\u2024\u2024/x', // one dot leaders, not dots
    '\uff0e\uff0e/x', // fullwidth full stops
    '日本語/ファイル.txt',
    'x'.repeat(255),
    'a/'.repeat(511) + 'b', // 1023 bytes
  ])('accepts %j and keeps it inside the bucket', (key) => {
    expect(keyProblem(key)).toBeUndefined();
    const root = resolve('/data/storage/b');
    const path = objectPath(root, key);
    expect(path.startsWith(root + sep)).toBe(true);
    expect(path).toBe(join(root, ...key.split('/')));
  });

  it('bucket names: letters, digits, _ and -, 1-63 characters', () => {
    for (const ok of ['images', 'A_b-9', 'x'.repeat(63)]) expect(checkBucketName(ok)).toBe(ok);
    for (const bad of ['', 'x'.repeat(64), '..', '.tmp', 'a/b', 'a b', 'é', 42, undefined]) {
      expect(() => checkBucketName(bad)).toThrow(expect.objectContaining({ statusCode: 400, error: 'STORAGE_INVALID_PARAMETER' }));
    }
  });

  it('generates keys like InsForge v2: <name>-<epoch ms>-<6 chars><ext>', () => {
    expect(generateKey('My Photo.JPG', 1700000000000)).toMatch(/^My-Photo-1700000000000-[a-z0-9]{6}\.JPG$/);
    expect(generateKey('../../etc/passwd', 1)).toMatch(/^passwd-1-[a-z0-9]{6}$/);
    expect(generateKey('C:\\Users\\x\\report.pdf', 1)).toMatch(/^report-1-[a-z0-9]{6}\.pdf$/);
    expect(generateKey(undefined, 1)).toMatch(/^file-1-[a-z0-9]{6}$/);
    expect(generateKey('.bashrc', 1)).toMatch(/^bashrc-1-[a-z0-9]{6}$/);
    for (const name of ['../../etc/passwd', 'a\u0000b.txt', '....', '']) expect(keyProblem(generateKey(name))).toBeUndefined();
  });
});

describe('content types', () => {
  it('takes the declared type unless generic, else guesses from the key, then the file name', () => {
    expect(chooseMimeType('image/png', 'a.jpg')).toBe('image/png');
    expect(chooseMimeType('application/octet-stream', 'a.jpg')).toBe('image/jpeg');
    expect(chooseMimeType('', 'noext', 'photo.png')).toBe('image/png');
    expect(chooseMimeType(undefined, 'noext')).toBe('application/octet-stream');
    // a part without Content-Type reaches us as text/plain: the extension wins when it knows better
    expect(chooseMimeType('text/plain', 'photo.png')).toBe('image/png');
    expect(chooseMimeType('text/plain', 'data.bin')).toBe('application/octet-stream');
    expect(chooseMimeType('text/plain', 'noext')).toBe('text/plain');
    expect(chooseMimeType('text/plain; charset=UTF-8', 'a')).toBe('text/plain; charset=utf-8');
    expect(chooseMimeType('text/html\r\nSet-Cookie: x=1', 'a.txt')).toBe('text/plain');
  });

  it('only passive types are served inline, as the bare type plus charset; everything else is an attachment', () => {
    for (const [stored, served] of [
      ['image/png', 'image/png'],
      ['IMAGE/JPEG', 'image/jpeg'],
      ['text/plain', 'text/plain'],
      ['text/plain; charset=UTF-8', 'text/plain; charset=utf-8'],
      ['text/plain; format=flowed; charset="utf-8"', 'text/plain; charset=utf-8'],
      ['text/plain; x="a,text/html"', 'text/plain'],
      ['application/pdf', 'application/pdf'],
      ['audio/mpeg', 'audio/mpeg'],
      ['video/mp4', 'video/mp4'],
    ]) expect(inlineContentType(stored!)).toBe(served);
    for (const t of [
      'text/html', 'text/html; charset=utf-8', 'TEXT/HTML', 'application/xhtml+xml', 'image/svg+xml', 'text/xml', 'application/xml', 'text/xsl',
      'application/xslt+xml', 'application/xml-dtd', 'application/rss+xml', 'application/atom+xml', 'application/mathml+xml', 'application/vnd.foo+xml',
      'audio/x+xml', 'video/x+xml', 'image/x+xml', 'text/x+xml', 'multipart/x-mixed-replace; boundary=x', 'text/javascript', 'application/javascript',
      'application/json', 'text/css', 'application/octet-stream', 'application/x-shockwave-flash', 'text/vtt', 'image/tiff', 'text/plainx', 'x/y',
    ]) expect(inlineContentType(t), t).toBeUndefined();
  });
});

describe('conditional and range requests', () => {
  const etag = '"abc"';
  const modified = new Date('2026-01-02T03:04:05.678Z');
  const range = (value: string, size = 100, extra: Record<string, string> = {}) => requestedRange({ range: value, ...extra }, size, etag, modified);

  it('parses one byte range, clamped to the size', () => {
    expect(range('bytes=0-9')).toEqual({ start: 0, end: 9 });
    expect(range('bytes=90-')).toEqual({ start: 90, end: 99 });
    expect(range('bytes=-10')).toEqual({ start: 90, end: 99 });
    expect(range('bytes=-1000')).toEqual({ start: 0, end: 99 });
    expect(range('bytes=50-1000')).toEqual({ start: 50, end: 99 });
  });

  it('unsatisfiable ranges, and ranges it ignores', () => {
    expect(range('bytes=100-')).toBe('unsatisfiable');
    expect(range('bytes=-0')).toBe('unsatisfiable');
    expect(range('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(range('bytes=9-1')).toBeUndefined();
    expect(range('bytes=0-1,5-6')).toBeUndefined();
    expect(range('items=0-1')).toBeUndefined();
    expect(range('bytes=-')).toBeUndefined();
    expect(range('bytes=0-9', 100, { 'if-range': '"old"' })).toBeUndefined();
    expect(range('bytes=0-9', 100, { 'if-range': etag })).toEqual({ start: 0, end: 9 });
  });

  it('If-None-Match (weak comparison) wins over If-Modified-Since', () => {
    expect(notModified({ 'if-none-match': '"abc"' }, etag, modified)).toBe(true);
    expect(notModified({ 'if-none-match': 'W/"abc"' }, etag, modified)).toBe(true);
    expect(notModified({ 'if-none-match': '"x", "abc"' }, etag, modified)).toBe(true);
    expect(notModified({ 'if-none-match': '*' }, etag, modified)).toBe(true);
    expect(notModified({ 'if-none-match': '"x"', 'if-modified-since': modified.toUTCString() }, etag, modified)).toBe(false);
    expect(notModified({ 'if-modified-since': modified.toUTCString() }, etag, modified)).toBe(true);
    expect(notModified({ 'if-modified-since': new Date(modified.getTime() - 5000).toUTCString() }, etag, modified)).toBe(false);
    expect(notModified({}, etag, modified)).toBe(false);
  });
});
