/** One physical line of an import file: its 1-based number and its text (without the '\n'; a '\r' before it is kept). */
export type Line = { no: number; text: string } | { no: number; error: string };

/** Longest line read into memory; a longer one is reported and skipped without being buffered. */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;

/**
 * Splits a byte stream into lines in constant memory (one line at a time), counting bytes for progress. Lines are cut
 * at '\n' bytes, which never occur inside a multi-byte UTF-8 sequence, then decoded strictly: a line that is not valid
 * UTF-8 is reported instead of being read with replacement characters. A byte order mark at the start is dropped.
 */
export class LineReader {
  bytesRead = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(
    private readonly source: AsyncIterable<Buffer>,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Line> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let tooLong = false;
    let no = 0;
    const finish = (last: Buffer): Line => {
      no += 1;
      if (tooLong) {
        tooLong = false;
        return { no, error: `line is longer than ${this.maxLineBytes} bytes` };
      }
      const bytes = pending.length === 0 ? last : Buffer.concat([...pending, last]);
      pending = [];
      pendingBytes = 0;
      try {
        const text = this.decoder.decode(bytes);
        return { no, text: no === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
      } catch {
        return { no, error: 'line is not valid UTF-8' };
      }
    };
    for await (const chunk of this.source) {
      this.bytesRead += chunk.length;
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        yield finish(tooLong ? Buffer.alloc(0) : chunk.subarray(start, nl));
        start = nl + 1;
      }
      if (start < chunk.length && !tooLong) {
        const rest = chunk.subarray(start);
        pendingBytes += rest.length;
        if (pendingBytes > this.maxLineBytes) {
          tooLong = true;
          pending = [];
          pendingBytes = 0;
        } else pending.push(rest);
      }
    }
    if (pendingBytes > 0 || tooLong) yield finish(Buffer.alloc(0));
  }
}
