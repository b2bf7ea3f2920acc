import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { AppendError, type AppendInput, type AppendResult } from './append-batch.ts';
import type { BatchOutcome, BatchWriter } from './appender.ts';
import type { WriteLease } from '../store/index.ts';
import { messageLogDir, removeMessageLog, type LoggedBatch } from './message-log.ts';

/** an outcome as it crosses the thread boundary (an Error does not keep its class) */
export type WireOutcome = ({ ok: true } & AppendResult) | { ok: false; code: AppendError['code']; message: string };

/** main thread → log thread (message-log-worker.ts) */
export type LogRequest = { type: 'write'; id: number; inputs: AppendInput[] } | { type: 'close' };
/**
 * Between the two threads, on a channel of their own (the batches do not pass through the event loop): the log thread
 * sends each batch once it is synced, the apply thread reports how far it has stored and synced.
 */
export type LogToApply = { type: 'apply'; batch: LoggedBatch };
export type ApplyToLog = { type: 'applied'; through: number } | { type: 'durable'; through: number };
/** log thread → main thread; `batchNo` is 0 when the batch stored nothing new (duplicates, refusals) */
export type LogReply =
  | { type: 'started' }
  | { type: 'logged'; id: number; batchNo: number; outcomes: WireOutcome[] }
  | { type: 'failed'; id: number; message: string };
export interface LogThreadData {
  file: string;
  logDir: string;
  startBatch: number;
  /** to the apply thread */
  applyPort: MessagePort;
}

/** main thread → apply thread (append-thread-worker.ts) */
export type ApplyRequest = { type: 'log-port'; port: MessagePort } | { type: 'lease'; id: number } | { type: 'index'; id: number } | { type: 'checkpoint' } | { type: 'close' };
/** apply thread → main thread */
export type ApplyReply =
  | { type: 'ready'; lastBatch: number }
  | { type: 'start-failed'; message: string }
  | { type: 'applied'; through: number }
  | { type: 'failed'; message: string }
  | { type: 'closed'; through: number }
  | { type: 'leased'; id: number }
  | { type: 'indexed'; id: number }
  | { type: 'index-failed'; message: string }
  | { type: 'lease-expired' };
export interface ApplyThreadData {
  file: string;
  logDir: string;
  turn: Int32Array;
  indexing: IndexTiming;
  applyEveryMs: number;
  /** tests: batches are received and never stored, as if the process died before */
  paused: boolean;
  /** the thread's nice value (0: as the process) */
  nice: number;
}

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

/**
 * A new apply transaction starts at most this often: under load a transaction then stores a few hundred messages
 * instead of a few dozen, and SQLite writes each touched page once for all of them. Reads wait for at most about
 * this long plus the transaction (settled()).
 */
export const DEFAULT_APPLY_EVERY_MS = 20;

export interface AppendThreadOptions {
  indexing?: IndexTiming;
  applyEveryMs?: number;
  /** tests: the apply thread stores nothing, as in a process that dies before its database catches up */
  pauseApply?: boolean;
  /** the apply thread's nice value (default APPLY_THREAD_NICE; 0 keeps the process's) */
  applyNice?: number;
}

/** The apply thread runs behind the acknowledgements, at a lower priority than the threads a message waits for. */
export const APPLY_THREAD_NICE = 10;

const WORKER_ENTRY = new URL('../store/typescript-worker.mjs', import.meta.url);
const APPLY_MODULE = new URL('./append-thread-worker.ts', import.meta.url).href;
const LOG_MODULE = new URL('./message-log-worker.ts', import.meta.url).href;

interface Threads {
  apply: Worker;
  /** started once the apply thread has stored the log of earlier runs */
  log: Worker | null;
  /** resolves when both threads are up: the log applied, the log thread ready to decide */
  ready: Promise<void>;
  up: boolean;
}

/**
 * The embedded SQLite database's message writer: two worker threads, so the database work of a message does not hold
 * up the sockets, and its acknowledgement does not wait for the database at all.
 *
 * - The log thread (message-log-worker.ts) decides each batch (seq, hash chain, idempotency), appends it to the
 *   message log (message-log.ts) and answers once the log is synced to disk: that is when a message is acknowledged.
 * - The apply thread (append-thread-worker.ts) stores the logged batches in the database behind the acknowledgements,
 *   many at a time, writes their search-index entries, and at start stores what the log holds and the database lacks.
 *
 * Reads that must see every acknowledged message wait for settled() (the server does this before every API request,
 * every socket read and every search). If a thread dies, both start again: the batches not yet logged fail (their
 * senders get storage_failed and may retry: a retry with the same clientId never stores twice), and the new apply
 * thread first stores whatever the log holds.
 *
 * It is also the server connection's WriteLease (store/write-lease.ts): while the apply thread has work, a write on
 * the server's connection asks it for a turn, which it grants between two of its transactions.
 */
export class SqliteAppendThread implements BatchWriter, WriteLease {
  readonly maxInFlight = 2;
  readonly logDir: string;
  private threads: Threads | null = null;
  /**
   * [0]: 1 while the server's connection holds a turn the apply thread granted; the thread waits on it (Atomics.wait).
   * [1]: 1 while the apply thread writes on its own (search-index entries, the log at start).
   */
  private turn = new Int32Array(new SharedArrayBuffer(8));
  /** the current turn was granted by the thread (which now waits for it back), not taken from an idle thread */
  private turnGranted = false;
  private leaseQueue = Promise.resolve();
  private endTurn: (() => void) | null = null;
  private readonly grants = new Map<number, () => void>();
  /** callers of catchUpSearchIndex, answered by the apply thread (or by its exit) */
  private readonly indexWaiters = new Map<number, (done: boolean) => void>();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: BatchOutcome) => void; reject: (e: Error) => void }>();
  /** the newest batch acknowledged, and the newest the database holds */
  private loggedThrough = 0;
  private appliedThrough = 0;
  private settleWaiters: Array<{ through: number; resolve: () => void }> = [];
  private closed = false;
  private readonly indexing: IndexTiming;
  private readonly applyEveryMs: number;
  private readonly pauseApply: boolean;
  private readonly applyNice: number;

  constructor(
    private readonly file: string,
    private readonly onError: (message: string) => void = () => {},
    opts: AppendThreadOptions = {},
  ) {
    this.logDir = messageLogDir(file);
    this.indexing = opts.indexing ?? DEFAULT_INDEX_TIMING;
    this.applyEveryMs = opts.applyEveryMs ?? DEFAULT_APPLY_EVERY_MS;
    this.pauseApply = opts.pauseApply ?? false;
    this.applyNice = opts.applyNice ?? APPLY_THREAD_NICE;
    // started at once: the log of an earlier run is applied before the first message is decided
    this.start();
  }

  async write(inputs: AppendInput[]): Promise<BatchOutcome> {
    if (this.closed) throw new Error('the message writer is shut down');
    const threads = this.threads ?? this.start();
    await threads.ready;
    if (this.threads !== threads) throw new Error('the message writer restarted before the batch was logged');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      threads.log!.ref();
      threads.log!.postMessage({ type: 'write', id, inputs } satisfies LogRequest);
    });
  }

  /** Resolves once the database holds every message acknowledged before the call, those of earlier runs included. */
  settled(): Promise<void> {
    // threads that are starting store the log of an earlier run first (a crash): reads wait for that as well
    const starting = this.threads && !this.threads.up ? this.threads.ready : null;
    if (starting) return starting.then(() => this.settled(), () => this.settled());
    const through = this.loggedThrough;
    if (this.appliedThrough >= through) return Promise.resolve();
    if (!this.threads && !this.closed) this.start();
    return new Promise((resolve) => this.settleWaiters.push({ through, resolve }));
  }

  unapplied(): number {
    return Math.max(0, this.loggedThrough - this.appliedThrough);
  }

  async acquire(): Promise<void> {
    // one holder at a time, in the order they asked
    const previous = this.leaseQueue;
    let done!: () => void;
    this.leaseQueue = new Promise<void>((r) => (done = r));
    await previous;
    this.endTurn = done;
    // an apply thread with nothing to store and no write of its own does not hold the lock: no need to ask. (One that
    // begins to index in the moment between this check and the write holds the write up in SQLite's busy handler
    // until it pauses between two jobs.)
    const threads = this.threads;
    if (!threads || (this.appliedThrough >= this.loggedThrough && Atomics.load(this.turn, 1) === 0)) return;
    const id = this.nextId++;
    this.turnGranted = true;
    await new Promise<void>((resolve) => {
      this.grants.set(id, resolve);
      threads.apply.ref();
      threads.apply.postMessage({ type: 'lease', id } satisfies ApplyRequest);
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

  /** Resolves once every message acknowledged before the call is stored and in the search index. */
  async catchUpSearchIndex(): Promise<void> {
    // an apply thread that died before answering: its successor's first job indexes what it left
    for (let attempt = 0; attempt < 2 && !this.closed; attempt++) {
      await this.settled();
      const threads = this.threads ?? this.start();
      const id = this.nextId++;
      const done = await new Promise<boolean>((resolve) => {
        this.indexWaiters.set(id, resolve);
        threads.apply.ref();
        threads.apply.postMessage({ type: 'index', id } satisfies ApplyRequest);
      });
      if (done) return;
    }
  }

  finishCheckpoint(): void {
    // an idle thread has nothing to add: the checkpoint thread's copy was complete
    if (this.appliedThrough < this.loggedThrough) this.threads?.apply.postMessage({ type: 'checkpoint' } satisfies ApplyRequest);
  }

  /** Waits until the database holds every logged batch and has synced it, stops both threads and removes the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    const threads = this.threads;
    if (!threads) return;
    await threads.ready.catch(() => {});
    // the exit of one is not a failure now: the other closes too
    this.threads = null;
    const stop = (w: Worker, request: LogRequest | ApplyRequest) =>
      new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.ref();
        w.postMessage(request);
        // it finishes the work it holds first; do not wait for ever on a stuck disk
        setTimeout(() => void w.terminate(), 10_000).unref();
      });
    let stored = false;
    threads.apply.on('message', (m: ApplyReply) => {
      if (m.type === 'closed' && m.through >= this.loggedThrough) stored = true;
    });
    if (threads.log) await stop(threads.log, { type: 'close' });
    await stop(threads.apply, { type: 'close' });
    // everything logged is in the database and synced: the next start has nothing to replay
    if (stored) removeMessageLog(this.logDir);
  }

  private start(): Threads {
    this.turn = new Int32Array(new SharedArrayBuffer(8));
    const apply = new Worker(WORKER_ENTRY, {
      workerData: { module: APPLY_MODULE, file: this.file, logDir: this.logDir, turn: this.turn, indexing: this.indexing, applyEveryMs: this.applyEveryMs, paused: this.pauseApply, nice: this.applyNice } satisfies ApplyThreadData & { module: string },
    });
    let startLog!: (lastBatch: number) => void;
    let failStart!: (e: Error) => void;
    const ready = new Promise<number>((resolve, reject) => {
      startLog = resolve;
      failStart = reject;
    }).then(
      (lastBatch) =>
        new Promise<void>((resolve, reject) => {
          this.loggedThrough = Math.max(this.loggedThrough, lastBatch);
          this.markApplied(lastBatch);
          const channel = new MessageChannel();
          apply.postMessage({ type: 'log-port', port: channel.port2 } satisfies ApplyRequest, [channel.port2]);
          const log = new Worker(WORKER_ENTRY, {
            workerData: { module: LOG_MODULE, file: this.file, logDir: this.logDir, startBatch: lastBatch + 1, applyPort: channel.port1 } satisfies LogThreadData & { module: string },
            transferList: [channel.port1],
          });
          threads.log = log;
          log.on('message', (m: LogReply) => {
            if (m.type === 'started') {
              threads.up = true;
              resolve();
              this.unrefIfIdle();
            } else this.receiveLogged(m);
          });
          log.on('error', (err) => this.onError(`message log thread failed: ${err.message}`));
          log.once('exit', (code) => {
            reject(new Error(`the message log thread stopped (exit code ${code})`));
            this.stopped(threads, `the message log thread stopped (exit code ${code}) before confirming the write`);
          });
        }),
    );
    const threads: Threads = { apply, log: null, ready, up: false };
    ready.catch(() => {});
    // referenced until both threads are up (unrefIfIdle): whoever waits for them keeps the process alive
    apply.on('message', (m: ApplyReply) => {
      if (m.type === 'ready') startLog(m.lastBatch);
      else if (m.type === 'start-failed') {
        this.onError(m.message);
        failStart(new Error(m.message));
      } else this.receiveApplied(threads, m);
    });
    apply.on('error', (err) => this.onError(`message apply thread failed: ${err.message}`));
    apply.once('exit', (code) => {
      failStart(new Error(`the message apply thread stopped (exit code ${code}) before it was ready`));
      this.stopped(threads, `the message apply thread stopped (exit code ${code})`);
    });
    this.threads = threads;
    return threads;
  }

  /** one of the two threads ended: the other one goes too, and the next use starts both from the log */
  private stopped(threads: Threads, why: string): void {
    if (this.threads !== threads) return;
    this.threads = null;
    void threads.apply.terminate();
    void threads.log?.terminate();
    // a turn asked of a thread that is gone is the caller's at once
    for (const grant of this.grants.values()) grant();
    this.grants.clear();
    for (const waiter of this.indexWaiters.values()) waiter(false);
    this.indexWaiters.clear();
    const e = new Error(why);
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    // whoever waits for the database to catch up is served by the next threads, which apply the log first; if these
    // never got that far (the log could not be applied), reads go on with what the database has: onError said why
    if (this.settleWaiters.length === 0 || this.closed) return;
    if (threads.log) this.start();
    else for (const w of this.settleWaiters.splice(0)) w.resolve();
  }

  private markApplied(through: number): void {
    if (through <= this.appliedThrough) return;
    this.appliedThrough = through;
    const waiting = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of waiting) {
      if (w.through <= through) w.resolve();
      else this.settleWaiters.push(w);
    }
    this.unrefIfIdle();
  }

  /** threads with work, or a turn asked of them, keep the process alive; idle ones do not */
  private unrefIfIdle(): void {
    const t = this.threads;
    if (!t || !t.up || this.pending.size > 0 || this.grants.size > 0 || this.indexWaiters.size > 0 || this.appliedThrough < this.loggedThrough) return;
    t.apply.unref();
    t.log?.unref();
  }

  private receiveLogged(m: LogReply): void {
    if (m.type === 'started') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === 'failed') {
      this.unrefIfIdle();
      return p.reject(new Error(m.message));
    }
    if (m.batchNo > 0) {
      // the log thread has sent the batch to the apply thread
      this.loggedThrough = m.batchNo;
      this.threads?.apply.ref();
    }
    const outcomes = m.outcomes.map((o) => {
      if (o.ok) {
        const { ok: _ok, ...result } = o;
        return result;
      }
      return new AppendError(o.code, o.message);
    });
    this.unrefIfIdle();
    p.resolve({ outcomes });
  }

  private receiveApplied(threads: Threads, m: ApplyReply): void {
    if (m.type === 'lease-expired') return this.onError(`the server connection held a write turn for over ${LEASE_MAX_MS / 1000} s; the apply thread went on`);
    if (m.type === 'index-failed') return this.onError(`search index not written: ${m.message}`);
    if (m.type === 'failed') return this.onError(m.message);
    if (m.type === 'applied') {
      if (this.threads === threads) this.markApplied(m.through);
      return;
    }
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
    }
  }
}
