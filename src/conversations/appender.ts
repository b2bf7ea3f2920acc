import { EventEmitter } from 'node:events';
import type { Kysely, Transaction } from 'kysely';
import type { Database, DialectName } from '../store/index.ts';
import { AppendError, writeMessageBatch, type AppendInput, type AppendResult, type ConversationRouting, type StoredMessage } from './append-batch.ts';

export * from './append-batch.ts';

/** What one committed batch produced: an outcome per input, in input order. */
export interface BatchOutcome {
  outcomes: Array<AppendResult | AppendError>;
}

/**
 * Commits a batch of appends and resolves once the batch is durable. `maxInFlight` batches may be handed over before
 * the first resolves; they must resolve in the order they were handed over.
 */
export interface BatchWriter {
  readonly maxInFlight: number;
  write(inputs: AppendInput[]): Promise<BatchOutcome>;
  /** resolves once reads of the database see every message acknowledged before the call (absent: at once) */
  settled?(): Promise<void>;
  /** acknowledged batches the database does not hold yet (absent: always 0) */
  unapplied?(): number;
  close(): Promise<void>;
}

/** Commits on the caller's own connection: PostgreSQL, the CLI, tests. A commit returns once it is durable. */
export function transactionWriter(db: Kysely<Database>, dialect: DialectName): BatchWriter {
  return {
    maxInFlight: 1,
    async write(inputs) {
      return { outcomes: await db.transaction().execute((trx) => writeMessageBatch(trx, dialect, inputs)) };
    },
    async close() {},
  };
}

/**
 * The most messages one group commit takes. At saturation fewer, larger commits cost less CPU per message (2,048
 * against 512: about a fifth less in bench/message-path); the largest statements, a batch's heads and prior clientIds,
 * bind 2,048 and 4,096 values, within both dialects' limits (SQLite 32,766, PostgreSQL 65,535).
 */
export const MAX_BATCH = 2048;

/** Where a batch's time went, for the metrics (`kefu_message_queue_seconds`, `kefu_message_commit_seconds`). */
export interface BatchTiming {
  /** per message: ms from append() until its batch was handed to the writer */
  queuedMs: number[];
  /** ms from the hand-over until the writer answered (commit and sync to disk) */
  writeMs: number;
}

interface Pending {
  /** performance.now() at append() */
  at: number;
  input: AppendInput;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

/**
 * The only writer of live messages. Appends that arrive while a commit is in flight are committed together in the
 * next batch (group commit): one fsync for many messages, and each caller's promise resolves only after its message is
 * durable. The rules (seq, hash chain, idempotency) are in writeMessageBatch; the writer decides where it runs: on
 * this connection, or on the SQLite writer thread (append-thread.ts), which takes the database work off the event loop.
 */
export class MessageAppender extends EventEmitter<{ committed: [StoredMessage[], Map<string, ConversationRouting>]; timed: [BatchTiming] }> {
  private queue: Pending[] = [];
  private scheduled = false;
  /** batches handed to the writer and not yet answered, oldest first */
  private readonly inFlight: Array<Promise<void>> = [];
  private readonly maxBatch: number;
  private readonly writer: BatchWriter;

  constructor(
    db: Kysely<Database>,
    private readonly dialect: DialectName,
    opts: { maxBatch?: number; writer?: BatchWriter } = {},
  ) {
    super();
    this.maxBatch = opts.maxBatch ?? MAX_BATCH;
    this.writer = opts.writer ?? transactionWriter(db, dialect);
  }

  append(input: AppendInput): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ at: performance.now(), input, resolve, reject });
      this.schedule();
    });
  }

  /** resolves when everything handed to append() so far is durable or failed */
  async idle(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight.length > 0 || this.scheduled) {
      if (this.inFlight.length > 0) await Promise.all([...this.inFlight]);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Resolves once the database holds every message acknowledged so far. With the SQLite writer threads a message is
   * acknowledged when it is in the message log, a moment before the database has it: reads that must find every
   * acknowledged message (a sync, an API request, a search) wait for this first. Immediate when nothing is behind.
   */
  settled(): Promise<void> {
    return this.writer.settled?.() ?? Promise.resolve();
  }

  /** acknowledged batches the database does not hold yet (the SQLite message log's apply lag) */
  unapplied(): number {
    return this.writer.unapplied?.() ?? 0;
  }

  /** waits for everything in flight, then stops the writer (its thread, if it has one) */
  async close(): Promise<void> {
    await this.idle();
    await this.writer.close();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight.length >= this.writer.maxInFlight) return;
    this.scheduled = true;
    // let appends from the same tick join the batch
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight.length < this.writer.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      const done = this.commitBatch(batch).finally(() => {
        this.inFlight.splice(this.inFlight.indexOf(done), 1);
        if (this.queue.length > 0) this.schedule();
      });
      this.inFlight.push(done);
    }
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    let result: BatchOutcome;
    const handedAt = performance.now();
    try {
      result = await this.writer.write(batch.map((p) => p.input));
      if (this.listenerCount('timed') > 0) this.emit('timed', { queuedMs: batch.map((p) => handedAt - p.at), writeMs: performance.now() - handedAt });
    } catch (err) {
      // not stored, or committed but not known to be on disk: a retry with the same clientId returns the stored message
      const e = new AppendError('storage_failed', `message not stored: ${(err as Error).message}`);
      for (const p of batch) p.reject(e);
      return;
    }
    const fresh: StoredMessage[] = [];
    // who serves each conversation at commit time: which staff receive its messages live
    const routing = new Map<string, ConversationRouting>();
    batch.forEach((p, i) => {
      const o = result.outcomes[i]!;
      if (o instanceof AppendError) p.reject(o);
      else {
        if (!o.duplicate) {
          fresh.push(o.message);
          routing.set(o.message.conversationId, o.routing);
        }
        p.resolve(o);
      }
    });
    if (fresh.length > 0) this.emit('committed', fresh, routing);
  }

  /**
   * Appends inside a transaction the caller owns (imports write a conversation and its messages atomically).
   * Nothing is broadcast: the caller decides what to announce after its commit.
   */
  appendWithin(trx: Transaction<Database>, inputs: AppendInput[]): Promise<Array<AppendResult | AppendError>> {
    return writeMessageBatch(trx, this.dialect, inputs);
  }
}
