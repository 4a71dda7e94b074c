import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/backend/functions/output.js';

const NONCE = 'n'.repeat(8);

function split(chunks: string[], opts = { max: 10, longMax: 40 }) {
  const lines: [string, boolean][] = [];
  const s = new LineSplitter({ ...opts, headBytes: NONCE.length, isLong: (head) => head.toString() === NONCE }, (line, truncated) => lines.push([line.toString(), truncated]));
  for (const c of chunks) s.push(Buffer.from(c));
  s.end();
  return lines;
}

describe("an invocation's output, split into bounded lines", () => {
  it('splits lines across chunks, and keeps a last line without a newline', () => {
    expect(split(['ab', 'c\nde\n\nf'])).toEqual([
      ['abc', false],
      ['de', false],
      ['', false],
      ['f', false],
    ]);
  });

  it('cuts a console line at its limit and says so', () => {
    expect(split(['0123456789abcdef\nok\n'])).toEqual([
      ['0123456789', true],
      ['ok', false],
    ]);
  });

  it('lets the answer line (it starts with the nonce) be long, even when the nonce is split across chunks', () => {
    const answer = `${NONCE}${'x'.repeat(30)}`;
    expect(split([answer.slice(0, 3), answer.slice(3), '\n'])).toEqual([[answer, false]]);
    // and bounds it too
    expect(split([`${NONCE}${'x'.repeat(50)}\n`])).toEqual([[`${NONCE}${'x'.repeat(32)}`, true]]);
  });

  it('drops what comes past the limit, however long the line grows', () => {
    const lines = split(Array.from({ length: 1000 }, () => 'y'.repeat(1000)));
    expect(lines).toEqual([['y'.repeat(10), true]]);
  });
});
