// Checkpoints the server's SQLite WAL on a worker thread. The server's own connection never checkpoints
// (wal_autocheckpoint=0): a checkpoint copies pages into the database file and fsyncs it, which on the event loop
// would stall every socket for the length of an fsync. synchronous=FULL here makes each checkpoint sync the WAL before
// copying and the database file after, so the WAL is never reused before its content is safe in the database file.
//
// Each tick first copies what it can without waiting for anybody (PASSIVE), while the writers go on, then copies the
// few frames written meanwhile with RESTART: that waits (at most 20 ms) for the commit in progress and for readers of
// older snapshots, holding writers back meanwhile, so the log is fully copied and the next commit starts it again
// from the beginning. PASSIVE alone never
// catches up under a steady stream of commits, and the WAL then grows for as long as the stream lasts (436 MB in
// 40 s of bench/append-thread.ts). journal_size_limit gives the space of a burst back when the log restarts.
// Plain JavaScript: worker threads do not inherit the TypeScript loader. Input (workerData): { driver, file, everyMs }.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require(workerData.driver);

const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
db.pragma('journal_size_limit = 67108864');
let stopping = false;
parentPort.on('message', (m) => {
  if (m === 'stop') stopping = true;
});

function checkpoint() {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    // RESTART holds writers back while it waits for them and for readers of older snapshots: never for long. When it
    // cannot finish (busy), the next tick tries again.
    db.pragma('busy_timeout = 20');
    let r;
    try {
      [r] = db.pragma('wal_checkpoint(RESTART)');
    } finally {
      db.pragma('busy_timeout = 5000');
    }
    parentPort.postMessage({ type: 'checkpointed', log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
}

const timer = setInterval(() => {
  checkpoint();
  if (stopping) {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
}, workerData.everyMs);
