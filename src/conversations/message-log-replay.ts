import type { Kysely } from 'kysely';
import { powerOfTwoChunks, type Database, type Store } from '../store/index.ts';
import { dataDirInUse } from '../governance/backup.ts';
import { writeDecided, type DecidedMessage } from './append-batch.ts';
import { listSegments, messageLogDir, readMessageLog, removeMessageLog, type LoggedBatch } from './message-log.ts';
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

/**
 * For the command line: when no server holds the embedded database (a server that stopped without storing its
 * message log: a crash, a power loss), stores what the log holds and the database lacks, removes the log (this
 * connection commits with synchronous=FULL, so what it stored is on disk) and says so on stderr. While a server runs,
 * or with PostgreSQL, or without a log, it does nothing. Returns how many messages it stored.
 */
export async function storeLeftMessageLog(store: Pick<Store, 'db' | 'dialect' | 'sqlitePath'>, dataDir: string): Promise<number> {
  if (store.dialect !== 'sqlite' || !store.sqlitePath || dataDirInUse(dataDir)) return 0;
  const dir = messageLogDir(store.sqlitePath);
  if (listSegments(dir).length === 0) return 0;
  const { stored } = await replayMessageLog(store.db, dir);
  removeMessageLog(dir);
  if (stored > 0) process.stderr.write(`kefu: stored ${stored} acknowledged messages from the message log that the database lacked (the server stopped before storing them)\n`);
  return stored;
}
