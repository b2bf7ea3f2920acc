// Checkpoints the server's SQLite WAL on a worker thread. The server's own connection never checkpoints
// (wal_autocheckpoint=0): a checkpoint copies pages into the database file and fsyncs it, which on the event loop
// would stall every socket for the length of an fsync. synchronous=FULL here makes each checkpoint sync the WAL before
// copying and the database file after, so the WAL is never reused before its content is safe in the database file.
//
// Each tick copies what it can without waiting for anybody (PASSIVE) while the writers go on. Under a steady stream of
// commits that never catches up, and a WAL that is never fully copied never starts again from its beginning: it grew
// for as long as the stream lasted (436 MB in 40 s of bench/append-thread.ts). So after each tick the server asks the
// message writer thread to copy the few frames written meanwhile between two of its commits (Store.shareWriteLock);
// its next commit then starts the log again. journal_size_limit gives the space of a burst back when it does.
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
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
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
