import type { Kysely } from 'kysely';
import { powerOfTwoChunks, type Database } from '../store/index.ts';
import { writeDecided, type DecidedMessage } from './append-batch.ts';
import { readMessageLog, type LoggedBatch } from './message-log.ts';
import type { UnindexedMessage } from '../archive/search-backlog.ts';

/** the most messages one transaction of a replay stores */
const REPLAY_CHUNK = 4096;

/**
 * Stores what the message log in `logDir` holds and the database lacks (messages are matched by id), in the order it
 * was logged, a few thousand messages a transaction. The apply thread runs this at every start; the command line runs
 * it when no server holds the database (a server that stopped without storing its log). With `unindexed` the search
 * entries are listed there for the caller to write; otherwise they commit with their messages.
 * Returns the newest batch in the log (0 when it is empty) and how many messages were missing.
 */
export async function replayMessageLog(db: Kysely<Database>, logDir: string, unindexed?: UnindexedMessage[]): Promise<{ newestBatch: number; stored: number }> {
  let group: LoggedBatch[] = [];
  let n = 0;
  let newestBatch = 0;
  let stored = 0;
  const flush = async () => {
    stored += await storeMissing(db, group, unindexed);
    group = [];
    n = 0;
  };
  for (const batch of readMessageLog(logDir)) {
    group.push(batch);
    n += batch.messages.length;
    newestBatch = batch.batchNo;
    if (n >= REPLAY_CHUNK) await flush();
  }
  if (group.length > 0) await flush();
  return { newestBatch, stored };
}

async function storeMissing(db: Kysely<Database>, batches: LoggedBatch[], unindexed?: UnindexedMessage[]): Promise<number> {
  const all: DecidedMessage[] = batches.flatMap((b) => b.messages);
  const present = new Set<string>();
  for (const chunk of powerOfTwoChunks(all.map((d) => d.message.id))) {
    for (const r of await db.selectFrom('message').select('id').where('id', 'in', chunk).execute()) present.add(r.id);
  }
  const missing = all.filter((d) => !present.has(d.message.id));
  if (missing.length > 0) await db.transaction().execute((trx) => writeDecided(trx, 'sqlite', missing, { unindexed }));
  return missing.length;
}
