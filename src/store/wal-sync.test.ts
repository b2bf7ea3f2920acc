import { test } from 'node:test';
import assert from 'node:assert/strict';
import SqliteDatabase from 'better-sqlite3';
import { freshDatabase } from '../../test/support/databases.ts';
import { openStore, sqliteFile } from './index.ts';
import { MessageAppender, openConversation, type StoredMessage } from '../conversations/index.ts';
import { createCustomer } from '../customers/index.ts';
import { WalSync } from './wal-sync.ts';

test('deferred-sync commits answer in commit order, once durable, and everything is in the file afterwards', async () => {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  try {
    store.enableDeferredSync((m) => assert.fail(`checkpoint failed: ${m}`));
    const appender = new MessageAppender(store.db, store.dialect, { writeDeferred: store.writeDeferred, maxBatch: 16 });
    const customer = await createCustomer(store.db, { name: '持久化测试' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const committed: number[] = [];
    appender.on('committed', (ms: StoredMessage[]) => committed.push(...ms.map((m) => m.seq)));
    // 200 sends at once: several batches of 16, each committing while the previous one's fdatasync runs
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => appender.append({ conversationId: conversation.id, clientId: `c${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `第 ${i} 条` })));
    assert.deepEqual(acks.map((a) => a.message.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(committed, Array.from({ length: 200 }, (_, i) => i + 1), 'broadcasts keep commit order');
    await appender.idle();
    // a second connection, as after a restart, sees every acknowledged message
    const other = new SqliteDatabase(sqliteFile(d.dataDir), { readonly: true });
    try {
      assert.equal((other.prepare('select count(*) as n from message where conversation_id = ?').get(conversation.id) as { n: number }).n, 200);
    } finally {
      other.close();
    }
  } finally {
    await store.close();
    await store.close(); // twice: a server and its test may both close the store
    await d.drop();
  }
});

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
