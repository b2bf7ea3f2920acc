import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalSync } from './wal-sync.ts';

test('WalSync shares one file sync among the commits that wait for it together, and reports a failed one to its waiters', async () => {
  const calls: number[] = [];
  let fail = false;
  // a file sync that takes a few event-loop turns, like an fdatasync on the thread pool
  const flush = (_path: string, fd: number | null) =>
    new Promise<number>((resolve, reject) => {
      calls.push(calls.length);
      setTimeout(() => (fail ? reject(new Error('disk gone')) : resolve(fd ?? 7)), 5);
    });
  const wal = new WalSync('unused', flush);
  const first = wal.sync();
  // these arrive while the first sync runs: all of them share the next one
  const later = Array.from({ length: 99 }, () => wal.sync());
  await Promise.all([first, ...later]);
  assert.equal(calls.length, 2, 'one sync in flight, one for everybody who came during it');
  await wal.sync();
  assert.equal(calls.length, 3, 'a sync after the others finished is a new one');
  fail = true;
  const failing = [wal.sync(), wal.sync()];
  for (const p of failing) await assert.rejects(p, /disk gone/);
});
