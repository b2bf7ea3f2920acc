/**
 * The SQLite message writer thread (started by append-thread.ts). It owns a connection of its own to the server's
 * database file and commits each batch it is sent with writeMessageBatch, the same rules the server's connection
 * would run. Batches are written one at a time, in the order they arrive. A commit leaves its frames in the WAL
 * (synchronous=NORMAL) and the batch is answered once an fdatasync of the WAL has returned (WalSync): the next batch
 * is written while the disk syncs the previous one, and answers keep commit order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { WalSync, openSqliteConnection } from '../store/index.ts';
import { AppendError, writeMessageBatch, type AppendInput, type ConversationRouting } from './append-batch.ts';
import { LEASE_MAX_MS, type ThreadReply, type ThreadRequest, type WireOutcome } from './append-thread.ts';

const port = parentPort!;
const { file, turn } = workerData as { file: string; turn: Int32Array };
const db = openSqliteConnection(file, { syncOnCommit: false });
const wal = new WalSync(`${file}-wal`);
/** the newest batch's answer, sent once it is on disk */
let lastAnswer = Promise.resolve();

async function write(inputs: AppendInput[]): Promise<{ outcomes: WireOutcome[]; routing: Array<[string, ConversationRouting]> }> {
  const routing = new Map<string, ConversationRouting>();
  const results = await db.transaction().execute((trx) => writeMessageBatch(trx, 'sqlite', inputs, routing));
  const outcomes = results.map((r): WireOutcome => (r instanceof AppendError ? { ok: false, code: r.code, message: r.message } : { ok: true, ...r }));
  return { outcomes, routing: [...routing] };
}

let chain = Promise.resolve();
port.on('message', (m: ThreadRequest) => {
  if (m.type === 'close') {
    chain = chain.then(async () => {
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
  if (m.type === 'lease') {
    // between two commits: the server's connection writes now, and this thread waits until it hands the turn back
    chain = chain.then(() => {
      Atomics.store(turn, 0, 1);
      port.postMessage({ type: 'leased', id: m.id } satisfies ThreadReply);
      if (Atomics.wait(turn, 0, 1, LEASE_MAX_MS) === 'timed-out') port.postMessage({ type: 'lease-expired' } satisfies ThreadReply);
    });
    return;
  }
  chain = chain.then(async () => {
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
