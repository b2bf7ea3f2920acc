/**
 * The SQLite message writer thread (started by append-thread.ts). It owns a connection of its own to the server's
 * database file and commits each batch it is sent with writeMessageBatch, the same rules the server's connection
 * would run. Batches are written one at a time, in the order they arrive. A commit leaves its frames in the WAL
 * (synchronous=NORMAL) and the batch is answered once an fdatasync of the WAL has returned (WalSync): the next batch
 * is written while the disk syncs the previous one, and answers keep commit order.
 *
 * The search-index entries of the messages are written after their commit, many at a time (archive/search-backlog.ts):
 * when no batch waits, at the latest when the oldest is IndexTiming.maxAgeMs old or maxWaiting messages wait, and
 * whenever the server asks before a search ('index'). The thread's first job indexes what a crashed predecessor left
 * unindexed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { WalSync, openSqliteConnection } from '../store/index.ts';
import { AppendError, writeMessageBatch, type AppendInput } from './append-batch.ts';
import { SearchBacklog, indexMissed, type UnindexedMessage } from '../archive/search-backlog.ts';
import { LEASE_MAX_MS, type IndexTiming, type ThreadReply, type ThreadRequest, type WireOutcome } from './append-thread.ts';

const port = parentPort!;
const { file, turn, indexing } = workerData as { file: string; turn: Int32Array; indexing: IndexTiming };
const db = openSqliteConnection(file, { syncOnCommit: false });
const wal = new WalSync(`${file}-wal`);
/** the newest batch's answer, sent once it is on disk */
let lastAnswer = Promise.resolve();

const backlog = new SearchBacklog();
/** write jobs received and not yet done: the index waits for a moment when none is */
let writesWaiting = 0;
let indexQueued = false;

async function write(inputs: AppendInput[]): Promise<{ outcomes: WireOutcome[] }> {
  const unindexed: UnindexedMessage[] = [];
  const results = await db.transaction().execute((trx) => writeMessageBatch(trx, 'sqlite', inputs, unindexed));
  backlog.add(unindexed);
  watchBacklog();
  const outcomes = results.map((r): WireOutcome => (r instanceof AppendError ? { ok: false, code: r.code, message: r.message } : { ok: true, ...r }));
  return { outcomes };
}

/**
 * The index job, after the jobs queued before it. On its own the thread indexes at most `indexing.maxWaiting / 4`
 * messages a job, so the commits behind it wait only a few ms; a caller who waits for it (a search) gets everything.
 */
function queueIndexing(then?: () => void) {
  if (indexQueued && !then) return;
  indexQueued = true;
  chain = chain.then(async () => {
    indexQueued = false;
    await ownWrite(() => backlog.flush(db, 'sqlite', then ? Infinity : Math.max(1, indexing.maxWaiting >> 2))).catch((err: Error) => port.postMessage({ type: 'index-failed', message: err.message } satisfies ThreadReply));
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
    if (age >= indexing.maxAgeMs || (age >= indexing.idleMs && writesWaiting === 0)) queueIndexing();
    else watchBacklog();
  }, indexing.idleMs);
}

// what a predecessor committed but did not index (a crash) is indexed before anything else
/** a write of the thread's own: the server's connection asks for a turn meanwhile, as while a batch is in flight */
async function ownWrite<T>(fn: () => Promise<T>): Promise<T> {
  Atomics.store(turn, 1, 1);
  try {
    return await fn();
  } finally {
    Atomics.store(turn, 1, 0);
  }
}

let chain: Promise<void> = ownWrite(() => indexMissed(db)).then(
  () => {},
  (err: Error) => port.postMessage({ type: 'index-failed', message: `messages left unindexed by a crash were not indexed: ${err.message}` } satisfies ThreadReply),
);
port.on('message', (m: ThreadRequest) => {
  if (m.type === 'close') {
    chain = chain.then(async () => {
      if (indexTimer) clearTimeout(indexTimer);
      await backlog.flush(db, 'sqlite').catch(() => {});
      await lastAnswer;
      wal.close();
      await db.destroy();
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
    queueIndexing(() => port.postMessage({ type: 'indexed', id: m.id } satisfies ThreadReply));
    return;
  }
  if (m.type === 'lease') {
    // between two commits: the server's connection writes now, and this thread waits until it hands the turn back
    chain = chain.then(() => {
      Atomics.store(turn, 0, 1);
      port.postMessage({ type: 'leased', id: m.id } satisfies ThreadReply);
      if (Atomics.wait(turn, 0, 1, LEASE_MAX_MS) === 'timed-out') port.postMessage({ type: 'lease-expired' } satisfies ThreadReply);
    });
    return;
  }
  writesWaiting++;
  chain = chain.then(async () => {
    writesWaiting--;
    if (backlog.size >= indexing.maxWaiting) queueIndexing();
    let written: ThreadReply;
    try {
      written = { type: 'written', id: m.id, ...(await write(m.inputs)) };
    } catch (err) {
      const failed: ThreadReply = { type: 'failed', id: m.id, message: (err as Error).message };
      // after the answers of the batches before it
      lastAnswer = lastAnswer.then(() => port.postMessage(failed));
      return;
    }
    // not awaited: the next batch is written while this one is synced
    lastAnswer = wal.sync().then(
      () => port.postMessage(written),
      // committed but not known to be on disk: a retry with the same clientId returns the stored message
      (err: Error) => port.postMessage({ type: 'failed', id: m.id, message: `written, but the sync to disk failed (${err.message}); a retry with the same clientId returns it if it was kept` } satisfies ThreadReply),
    );
  });
});
