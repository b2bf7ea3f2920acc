import type { Store } from '../store/index.ts';
import { dataDirInUse } from '../governance/backup.ts';
import { listSegments, messageLogDir, removeMessageLog } from './message-log.ts';
import { replayMessageLog } from './message-log-replay.ts';

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
