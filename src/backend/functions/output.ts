/**
 * Splits what an invocation process writes into lines, with bounds: a function may write without
 * end, and none of it may grow the backend's memory beyond these limits.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private truncated = false;
  /** Whether the line being read may be long (decided on its first bytes); undefined until known. */
  private long?: boolean;

  /**
   * @param isLong decides, from a line's first `headBytes` bytes, whether it may be up to `longMax` bytes (else `max`)
   * @param onLine gets each line without its newline; `truncated` when bytes past the limit were dropped
   */
  constructor(
    private readonly opts: { max: number; longMax: number; headBytes: number; isLong: (head: Buffer) => boolean },
    private readonly onLine: (line: Buffer, truncated: boolean) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      this.append(chunk.subarray(start, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.flush();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.size > 0 || this.truncated) this.flush();
  }

  private append(piece: Buffer) {
    if (piece.length === 0) return;
    if (this.long === undefined && this.size + piece.length >= this.opts.headBytes) {
      this.long = this.opts.isLong(Buffer.concat([...this.parts, piece]).subarray(0, this.opts.headBytes));
    }
    const room = (this.long ? this.opts.longMax : this.opts.max) - this.size;
    if (piece.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    this.parts.push(kept);
    this.size += kept.length;
  }

  private flush() {
    const line = Buffer.concat(this.parts, this.size);
    const truncated = this.truncated;
    this.parts = [];
    this.size = 0;
    this.truncated = false;
    this.long = undefined;
    this.onLine(line, truncated);
  }
}
