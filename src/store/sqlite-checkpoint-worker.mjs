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
// Plain JavaScript: worker threads do not inherit the TypeScript loader. Input (workerData): { driver, file, everyMs, nice }.
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require(workerData.driver);

// Behind every acknowledgement: give way to the event loop and the message log thread (as thread-priority.ts does;
// this file is plain JavaScript). Linux only; elsewhere, or if refused, the priority stays.
if (workerData.nice > 0) {
  try {
    os.setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
  } catch {
    // keeps the process's priority
  }
}

const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = FULL');
db.pragma('journal_size_limit = 67108864');
let stopping = false;
parentPort.on('message', (m) => {
  if (m === 'stop') stopping = true;
});

// A pass copies the frames of the last second while the writers go on: more frames arrive meanwhile (tens of ms at
// 4,000 messages/s). Further passes copy those, until one is left with few, so that the message writer's own pass
// after this one (finishCheckpoint) copies and syncs only a few ms of frames: it holds up every commit while it runs
// (~50 ms at 4,000/s after a single pass, ~8 ms after this, docs/BENCHMARKS.md).
const MAX_PASSES = 4;
const FEW_FRAMES = 64;

function checkpoint() {
  try {
    let [r] = db.pragma('wal_checkpoint(PASSIVE)');
    for (let pass = 1; pass < MAX_PASSES; pass++) {
      const copied = r.checkpointed;
      const [next] = db.pragma('wal_checkpoint(PASSIVE)');
      // a log started again from its beginning meanwhile has fewer frames than were copied: nothing is left behind
      const arrived = next.log - copied;
      r = next;
      if (arrived < FEW_FRAMES) break;
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
