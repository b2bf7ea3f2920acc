// Checkpoints the server's SQLite WAL on a worker thread. The server's own connection never checkpoints
// (wal_autocheckpoint=0): a checkpoint copies pages into the database file and fsyncs it, which on the event loop
// would stall every socket for the length of an fsync. synchronous=FULL here makes each checkpoint sync the WAL before
// copying and the database file after, so the WAL is never reused before its content is safe in the database file.
// Plain JavaScript: worker threads do not inherit the TypeScript loader. Input (workerData): { driver, file, everyMs }.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require(workerData.driver);

const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
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
