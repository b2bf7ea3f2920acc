/**
 * The SQLite message writer thread (started by append-thread.ts). It owns a connection of its own to the server's
 * database file and commits each batch it is sent with writeMessageBatch, the same rules the server's connection
 * would run; a commit returns once the WAL is synced (synchronous=FULL), and only then is the batch answered.
 * Batches are written one at a time, in the order they arrive.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteConnection } from '../store/index.ts';
import { AppendError, writeMessageBatch, type AppendInput, type ConversationRouting } from './append-batch.ts';
import { LEASE_MAX_MS, type ThreadReply, type ThreadRequest, type WireOutcome } from './append-thread.ts';

const port = parentPort!;
const { file, turn } = workerData as { file: string; turn: Int32Array };
const db = openSqliteConnection(file);

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
      await db.destroy();
      port.close();
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
    let reply: ThreadReply;
    try {
      reply = { type: 'written', id: m.id, ...(await write(m.inputs)) };
    } catch (err) {
      reply = { type: 'failed', id: m.id, message: (err as Error).message };
    }
    port.postMessage(reply);
  });
});
port.postMessage({ type: 'ready' } satisfies ThreadReply);
