import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface FilePart {
  filename: string;
  contentType: string;
  size: number;
  stream: Readable;
}

const quote = (s: string) => s.replace(/["\r\n\\]/g, (c) => encodeURIComponent(c));

/**
 * A multipart/form-data body as a stream with a known length: text fields first (the backend
 * reads `path` before the file), then the file, never held in memory whole.
 */
export function multipartBody(fields: Record<string, string>, file: FilePart): { body: Readable; contentType: string; length: number } {
  const boundary = `----insforge-mcp-${randomBytes(12).toString('hex')}`;
  const head =
    Object.entries(fields)
      .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`)
      .join('') + `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quote(file.filename)}"\r\nContent-Type: ${file.contentType}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  async function* parts() {
    yield Buffer.from(head);
    for await (const chunk of file.stream) yield chunk as Buffer;
    yield Buffer.from(tail);
  }
  return {
    body: Readable.from(parts(), { objectMode: false }),
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: Buffer.byteLength(head) + file.size + Buffer.byteLength(tail),
  };
}
