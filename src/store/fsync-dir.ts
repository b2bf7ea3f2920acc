import fs from 'node:fs';

/**
 * fsync of a directory, so that a file created, renamed or removed in it stays so after a power loss. Some file
 * systems do not allow fsync on a directory; there the entry is as durable as that file system makes it anyway.
 */
export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // not supported here: nothing more to do
  }
}
