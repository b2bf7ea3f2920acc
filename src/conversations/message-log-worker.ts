/**
 * The SQLite log thread (started by append-thread.ts): the first half of a message's way to disk. For each batch it
 * decides seq, hash and idempotency with decideAppends, reading the database on a read-only connection of its own and
 * what it logged that the apply thread has not stored yet (it is newer than the database), appends the decisions to
 * the message log (message-log.ts) and answers once the log is synced. Batches are decided one at a time in the order
 * they arrive; those that arrive while the thread decides or syncs are decided together in the next round (one
 * record, one sync), and answers keep that order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteConnection } from '../store/index.ts';
import { AppendError, decideAppends, type AppendInput, type StoredMessage, type UnappliedMessages } from './append-batch.ts';
import { MessageLogWriter, type LoggedBatch } from './message-log.ts';
import type { ApplyToLog, LogReply, LogRequest, LogThreadData, LogToApply, WireOutcome } from './append-thread.ts';

const port = parentPort!;
const { file, logDir, startBatch, applyPort } = workerData as LogThreadData;
const db = openSqliteConnection(file, { readOnly: true });
const log = new MessageLogWriter(logDir);
log.adoptEarlier();
const post = (m: LogReply) => port.postMessage(m);

/**
 * What this thread logged and the apply thread has not reported stored. Reports are taken only at the start of a
 * batch's decisions, before its reads: a database read after a report sees what the report covers.
 */
class Unapplied implements UnappliedMessages {
  private readonly heads = new Map<string, { seq: number; hash: string; batchNo: number }>();
  private readonly priors = new Map<string, { message: StoredMessage; batchNo: number }>();
  /** keys each batch added, oldest first */
  private readonly added: Array<{ batchNo: number; conversations: string[]; priors: string[] }> = [];
  reportedThrough = 0;

  head(conversationId: string) {
    return this.heads.get(conversationId);
  }

  prior(conversationId: string, clientId: string) {
    return this.priors.get(`${conversationId}\u0000${clientId}`)?.message;
  }

  add(batchNo: number, messages: StoredMessage[]): void {
    const entry = { batchNo, conversations: [] as string[], priors: [] as string[] };
    for (const m of messages) {
      this.heads.set(m.conversationId, { seq: m.seq, hash: m.hash, batchNo });
      entry.conversations.push(m.conversationId);
      if (m.clientId !== null) {
        const key = `${m.conversationId}\u0000${m.clientId}`;
        this.priors.set(key, { message: m, batchNo });
        entry.priors.push(key);
      }
    }
    this.added.push(entry);
  }

  /** forgets what the database has now */
  prune(): void {
    while (this.added.length > 0 && this.added[0]!.batchNo <= this.reportedThrough) {
      const { batchNo, conversations, priors } = this.added.shift()!;
      // a later batch of the same conversation keeps its newer entry
      for (const c of conversations) if (this.heads.get(c)?.batchNo === batchNo) this.heads.delete(c);
      for (const k of priors) if (this.priors.get(k)?.batchNo === batchNo) this.priors.delete(k);
    }
  }
}

const unapplied = new Unapplied();
let nextBatch = startBatch;
let chain = Promise.resolve();
/** write requests received and not yet decided */
const waiting: Array<{ id: number; inputs: AppendInput[] }> = [];
let drainQueued = false;

/**
 * Decides every waiting request (each its own batch and record), writes their records, syncs the log once for all
 * of them, then hands the batches to the apply thread and answers. Requests that arrive meanwhile wait for the next
 * round: the busier the thread, the more requests share a sync.
 */
/** the most appends one round decides together (statement sizes: decideAppends binds up to 2 values an append) */
const MAX_ROUND = 4096;

async function drain(): Promise<void> {
  drainQueued = false;
  const requests: typeof waiting = [];
  let n = 0;
  while (waiting.length > 0 && (requests.length === 0 || n + waiting[0]!.inputs.length <= MAX_ROUND)) {
    n += waiting[0]!.inputs.length;
    requests.push(waiting.shift()!);
  }
  if (waiting.length > 0) queueDrain();
  unapplied.prune();
  /**
   * A write or sync of the log that failed: a record may be cut short in the middle of the segment, and the decisions
   * after it stand on it. Nothing of this round is answered but as failed; this thread ends, and the server starts
   * both threads again from what the log and the database hold: a new segment, the old one read up to the cut (a retry
   * with the same clientId never stores twice).
   */
  const giveUp = (what: string, err: unknown): never => {
    for (const { id } of requests) post({ type: 'failed', id, message: `the message log was not ${what}: ${(err as Error).message}` });
    process.exit(1);
  };
  // every request of the round in one decision, one record and one sync: one read of the heads and of the prior
  // clientIds for all of them
  let decided;
  try {
    decided = await decideAppends(db, 'sqlite', requests.flatMap((r) => r.inputs), unapplied);
  } catch (err) {
    for (const { id } of requests) post({ type: 'failed', id, message: (err as Error).message });
    return;
  }
  const { outcomes, fresh } = decided;
  const batch: LoggedBatch | null = fresh.length > 0 ? { batchNo: nextBatch++, messages: fresh } : null;
  if (batch) {
    try {
      log.write(batch);
    } catch (err) {
      giveUp('written', err);
    }
    unapplied.add(batch.batchNo, fresh.map((d) => d.message));
    try {
      log.syncNow();
    } catch (err) {
      giveUp('synced to disk', err);
    }
    // the apply thread gets the batch before the answers go out
    applyPort.postMessage({ type: 'apply', batch } satisfies LogToApply);
  }
  let at = 0;
  for (const { id, inputs } of requests) {
    const mine = outcomes.slice(at, (at += inputs.length));
    const wire = mine.map((o): WireOutcome => (o instanceof AppendError ? { ok: false, code: o.code, message: o.message } : { ok: true, ...o }));
    post({ type: 'logged', id, batchNo: batch?.batchNo ?? 0, outcomes: wire });
  }
}

function queueDrain(): void {
  if (drainQueued) return;
  drainQueued = true;
  // after the requests already in the port's queue have been received
  setImmediate(() => {
    chain = chain.then(drain);
  });
}

applyPort.on('message', (m: ApplyToLog) => {
  if (m.type === 'applied') {
    unapplied.reportedThrough = Math.max(unapplied.reportedThrough, m.through);
    return;
  }
  try {
    log.retireThrough(m.through);
  } catch {
    // kept until the next report: a segment left behind is replayed and skipped, never stored twice
  }
});
// the apply thread's reports alone must not keep this thread alive
applyPort.unref();

port.on('message', (m: LogRequest) => {
  if (m.type === 'write') {
    waiting.push({ id: m.id, inputs: m.inputs });
    queueDrain();
    return;
  }
  // 'close'
  chain = chain.then(async () => {
    while (waiting.length > 0) await drain();
    await log.close();
    await db.destroy();
    applyPort.close();
    port.close();
  });
});
post({ type: 'started' });
