import fs from 'node:fs';

/**
 * Makes SQLite commits durable without waiting for the disk in the committing thread. The message writer thread
 * commits with synchronous=NORMAL (in WAL mode: the frames reach the OS, not the disk, and kill -9 loses nothing),
 * then waits for sync(): an fdatasync of the WAL file on libuv's thread pool. Only after that are its messages
 * acknowledged, so an ack still means "on disk"; but the next batch is written while the disk works, and commits
 * made during one fdatasync share the next (group commit of the fsync itself).
 */
export class WalSync {
  private fd: number | null = null;
  private inFlight: Promise<void> | null = null;
  private nextWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  /** `flush` is the file sync itself (replaceable so the grouping can be tested on its own) */
  constructor(
    private readonly walPath: string,
    private readonly flush: (walPath: string, fd: number | null) => Promise<number> = fdatasyncFile,
  ) {}

  /** resolves when everything written to the WAL before the call is on disk */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.nextWaiters.push({ resolve, reject });
      if (!this.inFlight) this.startNext();
    });
  }

  private startNext(): void {
    const waiters = this.nextWaiters;
    this.nextWaiters = [];
    this.inFlight = this.flush(this.walPath, this.fd).then(
      (fd) => {
        this.fd = fd;
        waiters.forEach((w) => w.resolve());
      },
      (err: Error) => waiters.forEach((w) => w.reject(err)),
    );
    void this.inFlight.finally(() => {
      this.inFlight = null;
      if (this.nextWaiters.length > 0) this.startNext();
    });
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** fdatasync of the WAL; the file lives as long as the server's connection is open, so one descriptor serves the run */
async function fdatasyncFile(walPath: string, fd: number | null): Promise<number> {
  const open = fd ?? (await new Promise<number>((res, rej) => fs.open(walPath, 'r', (e, f) => (e ? rej(e) : res(f)))));
  await new Promise<void>((res, rej) => fs.fdatasync(open, (e) => (e ? rej(e) : res())));
  return open;
}
