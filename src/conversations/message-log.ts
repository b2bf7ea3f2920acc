import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { DecidedMessage } from './append-batch.ts';
import { fsyncDir } from '../store/fsync-dir.ts';

/**
 * The message log of the embedded SQLite database: the decided messages of each group commit, appended to a file and
 * synced to disk before any of them is acknowledged. The database follows behind it (the writer threads in
 * append-thread.ts): an acknowledgement waits for a few hundred bytes a message in one sequential file instead of the
 * ~23 kB of database pages a message dirties in SQLite's own WAL (docs/BENCHMARKS.md, "Message path").
 *
 * Files: `<database>-msglog/NNNNNNNNNNNN.log`, segments of SEGMENT_BYTES created zero-filled and synced ahead of use,
 * so a sync of a record never has to write the file's metadata (ext4 would then also flush other files' data).
 * A record is `[u32 length][u32 crc32][JSON of LoggedBatch]`; a length of 0 is the end of what was written. A record
 * whose check fails is a write that a crash cut short: it was never acknowledged, and reading stops there.
 *
 * A segment is deleted once every batch in it is applied to the database and the database's WAL is synced past it.
 */
export interface LoggedBatch {
  /** rises by one with every logged batch, across segments and restarts */
  batchNo: number;
  messages: DecidedMessage[];
}

export const SEGMENT_BYTES = 16 << 20;
const HEADER = 8;
const SEGMENT_NAME = /^(\d{12})\.log$/;

export function messageLogDir(sqlitePath: string): string {
  return `${sqlitePath}-msglog`;
}

function segmentPath(dir: string, n: number): string {
  return path.join(dir, `${String(n).padStart(12, '0')}.log`);
}

/** the segment numbers in `dir`, oldest first */
export function listSegments(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => SEGMENT_NAME.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function encodeRecord(batch: LoggedBatch): Buffer {
  const payload = Buffer.from(JSON.stringify(batch), 'utf8');
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, HEADER);
  return out;
}

/** Every complete record of the segments in `dir`, in the order they were written. */
export function* readMessageLog(dir: string): Generator<LoggedBatch> {
  for (const n of listSegments(dir)) {
    const buf = fs.readFileSync(segmentPath(dir, n));
    let at = 0;
    while (at + HEADER <= buf.length) {
      const length = buf.readUInt32LE(at);
      if (length === 0 || at + HEADER + length > buf.length) break;
      const payload = buf.subarray(at + HEADER, at + HEADER + length);
      if (crc32(payload) !== buf.readUInt32LE(at + 4)) break;
      yield JSON.parse(payload.toString('utf8')) as LoggedBatch;
      at += HEADER + length;
    }
  }
}

/** Removes the whole log: every batch in it is in the database and on disk. */
export function removeMessageLog(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

interface Segment {
  n: number;
  fd: number;
  size: number;
  /** where the next record goes */
  at: number;
  /** the newest batch written to it (0: none) */
  lastBatch: number;
}

interface Preparing {
  n: number;
  ready: Promise<void>;
  segment: Segment | null;
  /** the writer moved on without it: removed when ready */
  abandoned: boolean;
}

const write = (fd: number, buf: Buffer, at: number) => new Promise<void>((res, rej) => fs.write(fd, buf, 0, buf.length, at, (e) => (e ? rej(e) : res())));
const fsyncFd = (fd: number) => new Promise<void>((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res())));
const openFile = (file: string) => new Promise<number>((res, rej) => fs.open(file, 'w+', (e, fd) => (e ? rej(e) : res(fd))));

/**
 * Appends records to the log (the log thread owns it): write() each record, then syncNow() once for all of them.
 * The next segment is prepared in the background when the current one is half full.
 */
export class MessageLogWriter {
  private current: Segment;
  private nextN: number;
  /** full segments still on disk, with the newest batch each holds */
  private readonly older: Array<{ n: number; lastBatch: number }> = [];
  private preparing: Preparing | null = null;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes = SEGMENT_BYTES,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.nextN = (listSegments(dir).at(-1) ?? 0) + 1;
    this.current = this.createSync(this.nextN++, segmentBytes);
  }

  /** Segments found at start belong to earlier runs: the apply thread has applied and synced them. */
  adoptEarlier(): void {
    for (const n of listSegments(this.dir)) if (n < this.current.n) this.older.push({ n, lastBatch: 0 });
  }

  /** Writes the record to the file, not yet to disk: syncNow() does that for every record written before it. */
  write(batch: LoggedBatch): void {
    const record = encodeRecord(batch);
    // a zero length after the last record marks the end: there is always room for it
    if (this.current.at + record.length + HEADER > this.current.size) this.rotate(record.length + HEADER);
    fs.writeSync(this.current.fd, record, 0, record.length, this.current.at);
    this.current.at += record.length;
    this.current.lastBatch = batch.batchNo;
    if (!this.preparing && this.current.at > this.current.size / 2) this.prepareNext();
  }

  /**
   * Syncs the records written so far, in this thread: the log thread has nothing else to do meanwhile, and the
   * batches that arrive during the sync are decided together afterwards and share the next one.
   */
  syncNow(): void {
    fs.fdatasyncSync(this.current.fd);
  }

  /** Deletes the full segments whose batches are all ≤ `batchNo` (applied to the database and synced there). */
  retireThrough(batchNo: number): void {
    let removed = false;
    while (this.older.length > 0 && this.older[0]!.lastBatch <= batchNo) {
      fs.rmSync(segmentPath(this.dir, this.older.shift()!.n), { force: true });
      removed = true;
    }
    if (removed) fsyncDir(this.dir);
  }

  async close(): Promise<void> {
    fs.closeSync(this.current.fd);
    const p = this.preparing;
    if (p) {
      p.abandoned = true;
      await p.ready;
    }
  }

  private rotate(atLeast: number): void {
    const full = this.current;
    // the records of the full segment are on disk before any of the next one's
    fs.fdatasyncSync(full.fd);
    fs.closeSync(full.fd);
    if (full.lastBatch > 0) this.older.push({ n: full.n, lastBatch: full.lastBatch });
    else fs.rmSync(segmentPath(this.dir, full.n), { force: true });
    const p = this.preparing;
    this.preparing = null;
    if (p?.segment && p.segment.size >= atLeast) {
      this.current = p.segment;
      return;
    }
    // not ready yet (or too small for this record): an empty segment left behind reads as nothing
    if (p) p.abandoned = true;
    this.current = this.createSync(this.nextN++, Math.max(this.segmentBytes, atLeast));
  }

  private prepareNext(): void {
    const p: Preparing = { n: this.nextN++, ready: Promise.resolve(), segment: null, abandoned: false };
    p.ready = this.createAsync(p.n, this.segmentBytes).then(
      (s) => {
        if (!p.abandoned) p.segment = s;
        else {
          fs.closeSync(s.fd);
          fs.rmSync(segmentPath(this.dir, s.n), { force: true });
        }
      },
      () => {
        // the writer makes one when it needs it
        if (this.preparing === p) this.preparing = null;
      },
    );
    this.preparing = p;
  }

  private createSync(n: number, size: number): Segment {
    const fd = fs.openSync(segmentPath(this.dir, n), 'w+');
    const zeros = Buffer.alloc(1 << 20);
    for (let at = 0; at < size; at += zeros.length) fs.writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
    fs.fsyncSync(fd);
    fsyncDir(this.dir);
    return { n, fd, size, at: 0, lastBatch: 0 };
  }

  private async createAsync(n: number, size: number): Promise<Segment> {
    const fd = await openFile(segmentPath(this.dir, n));
    const zeros = Buffer.alloc(1 << 20);
    for (let at = 0; at < size; at += zeros.length) await write(fd, zeros.subarray(0, Math.min(zeros.length, size - at)), at);
    await fsyncFd(fd);
    fsyncDir(this.dir);
    return { n, fd, size, at: 0, lastBatch: 0 };
  }
}
