import { Worker } from 'node:worker_threads';
import { AppendError, type AppendInput, type AppendResult } from './append-batch.ts';
import type { BatchOutcome, BatchWriter } from './appender.ts';
import type { WriteLease } from '../store/index.ts';

/** main thread → writer thread */
export type ThreadRequest = { type: 'write'; id: number; inputs: AppendInput[] } | { type: 'lease'; id: number } | { type: 'index'; id: number } | { type: 'checkpoint' } | { type: 'close' };
/** an outcome as it crosses the thread boundary (an Error does not keep its class) */
export type WireOutcome = ({ ok: true } & AppendResult) | { ok: false; code: AppendError['code']; message: string };
/** writer thread → main thread */
export type ThreadReply =
  | { type: 'written'; id: number; outcomes: WireOutcome[] }
  | { type: 'failed'; id: number; message: string }
  | { type: 'leased'; id: number }
  | { type: 'indexed'; id: number }
  | { type: 'index-failed'; message: string }
  | { type: 'lease-expired' };

/** how long the thread waits for a lease to come back before it writes anyway (the lock is still SQLite's) */
export const LEASE_MAX_MS = 30_000;

/**
 * An idle thread indexes what waits after idleMs; a busy one once the oldest waiting message is maxAgeMs old or
 * maxWaiting messages wait. Small batches cost FTS5 a segment each; large ones hold the next commit up longer.
 */
export interface IndexTiming {
  idleMs: number;
  maxAgeMs: number;
  maxWaiting: number;
}
export const DEFAULT_INDEX_TIMING: IndexTiming = { idleMs: 20, maxAgeMs: 500, maxWaiting: 2048 };

const WORKER_ENTRY = new URL('../store/typescript-worker.mjs', import.meta.url);
const WORKER_MODULE = new URL('./append-thread-worker.ts', import.meta.url).href;

/**
 * Commits message batches of the embedded SQLite database on a worker thread (append-thread-worker.ts), so the
 * database work of a message — about 100 µs of SQLite, index and hash per message — does not hold up the sockets.
 * Two batches may be in flight: the thread writes the next one while the disk syncs the previous one.
 * If the thread dies, the batches it held fail (their senders get storage_failed and may retry: a retry with the same
 * clientId never stores twice) and the next write starts a new thread.
 *
 * The thread writes the messages' search-index entries shortly after their commit (archive/search-backlog.ts);
 * catchUpSearchIndex() waits until every message committed so far is indexed, for searches on the server.
 *
 * It is also the server connection's WriteLease (store/write-lease.ts): while batches are in flight, a write on the
 * server's connection asks the thread for a turn, which the thread grants between two commits.
 */
export class SqliteAppendThread implements BatchWriter, WriteLease {
  readonly maxInFlight = 2;
  private worker: Worker | null = null;
  /**
   * [0]: 1 while the server's connection holds a turn the thread granted; the thread waits on it (Atomics.wait).
   * [1]: 1 while the thread writes on its own, with no batch of ours (search-index entries, recovery after a crash).
   */
  private turn = new Int32Array(new SharedArrayBuffer(8));
  /** the current turn was granted by the thread (which now waits for it back), not taken from an idle thread */
  private turnGranted = false;
  private leaseQueue = Promise.resolve();
  private endTurn: (() => void) | null = null;
  private readonly grants = new Map<number, () => void>();
  /** callers of catchUpSearchIndex, answered by the thread (or by its exit: a new thread indexes what it left) */
  private readonly indexWaiters = new Map<number, (done: boolean) => void>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: BatchOutcome) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly onError: (message: string) => void = () => {},
    /** when the thread indexes on its own (tests set them high to see what waits) */
    private readonly indexing: IndexTiming = DEFAULT_INDEX_TIMING,
  ) {
    // started at once so the first message does not wait for the thread to load
    this.start();
  }

  write(inputs: AppendInput[]): Promise<BatchOutcome> {
    if (this.closed) return Promise.reject(new Error('the message writer is shut down'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ type: 'write', id, inputs } satisfies ThreadRequest);
    });
  }

  async acquire(): Promise<void> {
    // one holder at a time, in the order they asked
    const previous = this.leaseQueue;
    let done!: () => void;
    this.leaseQueue = new Promise<void>((r) => (done = r));
    await previous;
    this.endTurn = done;
    // a thread with no batch and no write of its own does not hold the lock: no need to ask. (One that begins to
    // index in the moment between this check and the write holds the write up in SQLite's busy handler until it
    // pauses between two index jobs.)
    if (!this.worker || (this.pending.size === 0 && Atomics.load(this.turn, 1) === 0)) return;
    const worker = this.worker;
    const id = this.nextId++;
    this.turnGranted = true;
    await new Promise<void>((resolve) => {
      this.grants.set(id, resolve);
      worker.ref();
      worker.postMessage({ type: 'lease', id } satisfies ThreadRequest);
    });
  }

  release(): void {
    if (this.turnGranted) {
      Atomics.store(this.turn, 0, 0);
      Atomics.notify(this.turn, 0);
    }
    this.turnGranted = false;
    const done = this.endTurn;
    this.endTurn = null;
    done?.();
  }

  /** Resolves once every message committed before the call is in the search index. */
  async catchUpSearchIndex(): Promise<void> {
    // a thread that died before answering: its successor's first job indexes what it left
    for (let attempt = 0; attempt < 2 && !this.closed; attempt++) {
      const worker = this.worker ?? this.start();
      const id = this.nextId++;
      const done = await new Promise<boolean>((resolve) => {
        this.indexWaiters.set(id, resolve);
        worker.ref();
        worker.postMessage({ type: 'index', id } satisfies ThreadRequest);
      });
      if (done) return;
    }
  }

  finishCheckpoint(): void {
    // an idle thread has nothing to add: the checkpoint thread's copy was complete
    if (this.pending.size > 0) this.worker?.postMessage({ type: 'checkpoint' } satisfies ThreadRequest);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.ref();
      worker.postMessage({ type: 'close' } satisfies ThreadRequest);
      // it finishes the batches it holds first; do not wait for ever on a stuck disk
      setTimeout(() => void worker.terminate(), 10_000).unref();
    });
  }

  private start(): Worker {
    this.turn = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(WORKER_ENTRY, { workerData: { module: WORKER_MODULE, file: this.file, turn: this.turn, indexing: this.indexing } });
    worker.unref();
    worker.on('message', (m: ThreadReply) => this.receive(m));
    worker.on('error', (err) => this.onError(`message writer thread failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      // a turn asked of a thread that is gone is the caller's at once
      for (const grant of this.grants.values()) grant();
      this.grants.clear();
      for (const waiter of this.indexWaiters.values()) waiter(false);
      this.indexWaiters.clear();
      if (this.pending.size === 0) return;
      const e = new Error(`the message writer thread stopped (exit code ${code}) before confirming the commit`);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    this.worker = worker;
    return worker;
  }

  /** a thread with work, or a turn asked of it, keeps the process alive; an idle one does not */
  private unrefIfIdle(): void {
    if (this.pending.size === 0 && this.grants.size === 0 && this.indexWaiters.size === 0) this.worker?.unref();
  }

  private receive(m: ThreadReply): void {
    if (m.type === 'lease-expired') return this.onError(`the server connection held a write turn for over ${LEASE_MAX_MS / 1000} s; the writer thread went on`);
    if (m.type === 'index-failed') return this.onError(`search index not written: ${m.message}`);
    if (m.type === 'indexed') {
      this.indexWaiters.get(m.id)?.(true);
      this.indexWaiters.delete(m.id);
      this.unrefIfIdle();
      return;
    }
    if (m.type === 'leased') {
      this.grants.get(m.id)?.();
      this.grants.delete(m.id);
      this.unrefIfIdle();
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.unrefIfIdle();
    if (m.type === 'failed') return p.reject(new Error(m.message));
    const outcomes = m.outcomes.map((o) => {
      if (o.ok) {
        const { ok: _ok, ...result } = o;
        return result;
      }
      return new AppendError(o.code, o.message);
    });
    p.resolve({ outcomes });
  }
}
