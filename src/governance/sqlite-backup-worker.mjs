// Copies a live SQLite database with the online backup API, on a worker thread so that a server taking a scheduled
// backup keeps serving. Plain JavaScript: worker threads do not inherit the TypeScript loader the CLI registers.
// Input (workerData): { driver: path of better-sqlite3, source, dest }. Messages out: progress, then done.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require(workerData.driver);

const source = new Database(workerData.source, { fileMustExist: true });
source.pragma('busy_timeout = 5000');
let lastRemaining = Infinity;
let onePass = false;
await source.backup(workerData.dest, {
  progress({ totalPages, remainingPages }) {
    // SQLite restarts the copy when another connection (the server) commits between steps. Under steady writes that
    // could go on for ever, so after the first restart the rest is copied in one step, inside one read snapshot.
    if (remainingPages > lastRemaining) onePass = true;
    lastRemaining = remainingPages;
    parentPort.postMessage({ type: 'progress', totalPages, remainingPages });
    return onePass ? 0x7fffffff : Math.max(256, Math.ceil(totalPages / 50));
  },
});
source.close();

// the copy stands alone: no WAL file belongs to it, and it must pass SQLite's own consistency check
const copy = new Database(workerData.dest, { fileMustExist: true });
copy.pragma('journal_mode = DELETE');
const check = copy.pragma('quick_check', { simple: true });
const count = (table) => copy.prepare(`select count(*) as n from ${table}`).get().n;
const schema = copy.prepare('select name from kefu_migration order by name desc limit 1').get();
const counts = { conversations: count('conversation'), messages: count('message'), auditEvents: count('audit_event') };
copy.close();
parentPort.postMessage({ type: 'done', check, counts, schemaVersion: schema ? schema.name : null });
