import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The byte stream of an export on its way to the destination: counts the bytes and hashes them, and lets writers wait
 * for the destination to keep up (backpressure), so memory stays constant however large the export is.
 */
/** Bytes that may wait for the destination: enough that formatting and writing to disk overlap. */
export const OUTPUT_BUFFER_BYTES = 1024 * 1024;

export class Output {
  bytes = 0;
  private readonly hash = createHash('sha256');
  /** what writers write to */
  readonly stream: Transform;
  private readonly done: Promise<void>;

  constructor(destination: Writable) {
    this.stream = new Transform({
      highWaterMark: OUTPUT_BUFFER_BYTES,
      transform: (chunk: Buffer, _enc, cb) => {
        this.bytes += chunk.length;
        this.hash.update(chunk);
        cb(null, chunk);
      },
    });
    this.done = pipeline(this.stream, destination);
    // a failure is reported by whoever awaits the next write or finish()
    this.done.catch(() => {});
  }

  /** writes, and waits while the destination is behind */
  async write(chunk: Buffer | string): Promise<void> {
    if (!this.stream.write(chunk)) await this.drained();
  }

  /** resolves when the destination has caught up; rejects when it failed */
  async drained(): Promise<void> {
    if (!this.stream.writableNeedDrain) return;
    await Promise.race([once(this.stream, 'drain'), this.done]);
  }

  /** ends the stream (unless a writer such as exceljs already did) and waits until the destination has everything */
  async finish(): Promise<{ bytes: number; sha256: string }> {
    if (!this.stream.writableEnded) this.stream.end();
    await this.done;
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  abort(err: Error): void {
    this.stream.destroy(err);
  }
}
