import fs from 'node:fs';
import os from 'node:os';

/**
 * Lowers the scheduling priority of the calling thread (Linux: a thread has a nice value of its own). For threads whose
 * work is behind the acknowledgements (the apply thread, checkpoints): on 2 cores they then give way to the event loop
 * and the log thread, which a message waits for. Elsewhere, or where it is refused, nothing changes.
 */
export function lowerThreadPriority(nice = 10): boolean {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return false;
    os.setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
