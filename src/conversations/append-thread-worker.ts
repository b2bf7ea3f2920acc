/**
 * The SQLite apply thread (started by append-thread.ts). It owns a connection of its own to the server's database
 * file and stores the batches that the log thread decided and synced to the message log (message-log.ts), with
 * writeDecided, in the order they were logged. It runs behind the acknowledgements: nothing here holds a message's
 * ack up. Batches that arrive while one is stored are stored together, and a new transaction starts at most every
 * `applyEveryMs`, so a commit carries many messages (fewer database pages written per message).
 *
 * At start it first stores what the message log holds and the database lacks (a crash, or a power loss that took
 * SQLite's unsynced WAL frames), syncs the WAL and reports `ready` with the newest logged batch.
 * Commits leave their frames in the WAL (synchronous=NORMAL); an fdatasync of the WAL at most every WAL_SYNC_MS then
 * reports them `durable`, and the log thread deletes the log segments that hold only durable batches.
 *
 * The search-index entries of the messages are written after their commit, many at a time (archive/search-backlog.ts):
 * when no batch waits, at the latest when the oldest is IndexTiming.maxAgeMs old or maxWaiting messages wait, and
 * whenever the server asks before a search ('index').
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { WalSync, openSqliteConnection } from '../store/index.ts';
import { lowerThreadPriority } from '../store/thread-priority.ts';
import { writeDecided, type DecidedMessage } from './append-batch.ts';
import type { LoggedBatch } from './message-log.ts';
import { replayMessageLog } from './message-log-replay.ts';
import { SearchBacklog, indexMissed, type UnindexedMessage } from '../archive/search-backlog.ts';
import type { MessagePort } from 'node:worker_threads';
import { LEASE_MAX_MS, type ApplyReply, type ApplyRequest, type ApplyThreadData, type ApplyToLog, type LogToApply } from './append-thread.ts';

const port = parentPort!;
const { file, logDir, turn, indexing, applyEveryMs, paused, nice } = workerData as ApplyThreadData;
// nothing waits for this thread but reads, which wait for settled(): the event loop and the log thread go first
if (nice > 0) lowerThreadPriority(nice);
const db = openSqliteConnection(file, { syncOnCommit: false });
const wal = new WalSync(`${file}-wal`);
const post = (m: ApplyReply) => port.postMessage(m);
/** the log thread's channel: batches come in, how far they are stored and synced goes back */
let logPort: MessagePort | null = null;
const tellLog = (m: ApplyToLog) => logPort?.postMessage(m);

/** how often applied batches are made durable in the WAL, so the message log can let go of them */
const WAL_SYNC_MS = 250;
/** the most messages one transaction stores */
const MAX_APPLY = 4096;

const backlog = new SearchBacklog();
/** batches received and not yet stored, oldest first */
const queue: LoggedBatch[] = [];
let appliedThrough = 0;
let applyQueued = false;
let lastApplyAt = 0;
let walSyncTimer: NodeJS.Timeout | null = null;
let indexQueued = false;

/** a write of the thread's own: the server's connection asks for a turn meanwhile (write-lease.ts) */
async function ownWrite<T>(fn: () => Promise<T>): Promise<T> {
  Atomics.store(turn, 1, 1);
  try {
    return await fn();
  } finally {
    Atomics.store(turn, 1, 0);
  }
}

/** Stores the batches in one transaction. */
async function store(batches: LoggedBatch[]): Promise<void> {
  const messages: DecidedMessage[] = batches.flatMap((b) => b.messages);
  const unindexed: UnindexedMessage[] = [];
  if (messages.length > 0) await db.transaction().execute((trx) => writeDecided(trx, 'sqlite', messages, { unindexed }));
  backlog.add(unindexed);
}

function scheduleWalSync(): void {
  if (walSyncTimer) return;
  walSyncTimer = setTimeout(() => {
    walSyncTimer = null;
    const through = appliedThrough;
    wal.sync().then(
      () => tellLog({ type: 'durable', through }),
      (err: Error) => post({ type: 'failed', message: `the WAL was not synced: ${err.message}` }),
    );
  }, WAL_SYNC_MS);
}

function queueApply(): void {
  if (applyQueued || paused || queue.length === 0) return;
  applyQueued = true;
  const wait = Math.max(0, lastApplyAt + applyEveryMs - performance.now());
  const run = () => {
    chain = chain.then(async () => {
      applyQueued = false;
      lastApplyAt = performance.now();
      const batches: LoggedBatch[] = [];
      let n = 0;
      while (queue.length > 0 && (n === 0 || n + queue[0]!.messages.length <= MAX_APPLY)) {
        n += queue[0]!.messages.length;
        batches.push(queue.shift()!);
      }
      try {
        await store(batches);
      } catch (err) {
        // kept, in order, for another try: every batch here is acknowledged and must be stored
        queue.unshift(...batches);
        post({ type: 'failed', message: `acknowledged messages not stored yet, trying again in 1 s: ${(err as Error).message}` });
        await new Promise((r) => setTimeout(r, 1000));
        queueApply();
        return;
      }
      appliedThrough = batches.at(-1)!.batchNo;
      post({ type: 'applied', through: appliedThrough });
      tellLog({ type: 'applied', through: appliedThrough });
      scheduleWalSync();
      watchBacklog();
      if (backlog.size >= indexing.maxWaiting) queueIndexing();
      queueApply();
    });
  };
  if (wait > 0) setTimeout(run, wait);
  else run();
}

/**
 * The index job, after the jobs queued before it. On its own the thread indexes at most `indexing.maxWaiting / 4`
 * messages a job, so the batches behind it wait only a few ms; a caller who waits for it (a search) gets everything.
 */
function queueIndexing(then?: () => void) {
  if (indexQueued && !then) return;
  indexQueued = true;
  chain = chain.then(async () => {
    indexQueued = false;
    await ownWrite(() => backlog.flush(db, 'sqlite', then ? Infinity : Math.max(1, indexing.maxWaiting >> 2))).catch((err: Error) => post({ type: 'index-failed', message: err.message }));
    watchBacklog();
    then?.();
  });
}

let indexTimer: NodeJS.Timeout | null = null;
function watchBacklog() {
  if (indexTimer || backlog.size === 0) return;
  indexTimer = setTimeout(() => {
    indexTimer = null;
    const age = backlog.age();
    if (age >= indexing.maxAgeMs || (age >= indexing.idleMs && queue.length === 0)) queueIndexing();
    else watchBacklog();
  }, indexing.idleMs);
}

// first what the message log holds and the database lacks, then what a predecessor committed but did not index
let chain: Promise<void> = ownWrite(async () => {
  const unindexed: UnindexedMessage[] = [];
  const { newestBatch: newest } = await replayMessageLog(db, logDir, unindexed);
  backlog.add(unindexed);
  await wal.sync();
  appliedThrough = newest;
  post({ type: 'ready', lastBatch: newest });
  await indexMissed(db);
}).catch((err: Error) => {
  // without its log the database would miss acknowledged messages: the server does not write on
  post({ type: 'start-failed', message: `the message log was not applied: ${err.message}` });
  process.exit(1);
});

port.on('message', (m: ApplyRequest) => {
  if (m.type === 'log-port') {
    logPort = m.port;
    logPort.on('message', (l: LogToApply) => {
      // a batch the start's replay already stored
      if (l.batch.batchNo <= appliedThrough) return;
      queue.push(l.batch);
      queueApply();
    });
    logPort.unref();
    return;
  }
  if (m.type === 'close') {
    chain = chain.then(async () => {
      if (indexTimer) clearTimeout(indexTimer);
      if (walSyncTimer) clearTimeout(walSyncTimer);
      if (queue.length > 0) await store(queue.splice(0));
      await backlog.flush(db, 'sqlite').catch(() => {});
      await wal.sync();
      wal.close();
      await db.destroy();
      post({ type: 'closed', through: appliedThrough });
      logPort?.close();
      port.close();
    });
    return;
  }
  if (m.type === 'checkpoint') {
    // between two commits nobody else writes, so this copies the frames since the checkpoint thread's pass and the
    // log is complete: the next commit starts it again from the beginning
    chain = chain.then(async () => {
      await sql`pragma wal_checkpoint(PASSIVE)`.execute(db).catch(() => {});
    });
    return;
  }
  if (m.type === 'index') {
    queueIndexing(() => post({ type: 'indexed', id: m.id }));
    return;
  }
  // 'lease': between two commits the server's connection writes, and this thread waits until it hands the turn back
  chain = chain.then(() => {
    Atomics.store(turn, 0, 1);
    post({ type: 'leased', id: m.id });
    if (Atomics.wait(turn, 0, 1, LEASE_MAX_MS) === 'timed-out') post({ type: 'lease-expired' });
  });
});
