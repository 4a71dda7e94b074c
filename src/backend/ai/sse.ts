/**
 * Server-sent events, as far as OpenAI-style streams use them: yields the `data` of each event
 * (several data lines joined by "\n"), ignoring comments (": keep-alive"), `event:` and `id:` lines.
 */
export async function* sseData(stream: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of stream) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (newline === buffer.length - 1 && buffer.endsWith('\r')) break; // may be half of a \r\n
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
  }
  if (buffer.startsWith('data:')) data.push(buffer.slice(buffer.startsWith('data: ') ? 6 : 5));
  if (data.length) yield data.join('\n');
}

/** One event as the InsForge v2 stream writes it: a single `data:` line of JSON. */
export const sseEvent = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
