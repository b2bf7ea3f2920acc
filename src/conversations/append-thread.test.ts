import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import SqliteDatabase from 'better-sqlite3';
import { freshDatabase } from '../../test/support/databases.ts';
import { openStore, sqliteFile, type Store } from '../store/index.ts';
import { AppendError, MessageAppender, SqliteAppendThread, openConversation, type StoredMessage } from './index.ts';
import { createCustomer } from '../customers/index.ts';
import { verifyMessageChains } from '../governance/integrity.ts';
import { registerSearchCatchUp, countInIndex } from '../store/dialect/search.ts';
import { engineQueryFor, searchMessages, searchParamsSchema } from '../archive/search.ts';
import type { IndexTiming } from './append-thread.ts';

/** the running threads of a writer (a test kills them to play a crash) */
const threadsOf = (writer: SqliteAppendThread) => (writer as unknown as { threads: { apply: Worker; log: Worker | null; ready: Promise<void> } }).threads;

async function withThread(fn: (ctx: { store: Store; appender: MessageAppender; writer: SqliteAppendThread; dataDir: string }) => Promise<void>, opts: { checkpoints?: boolean; indexing?: IndexTiming } = {}) {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  if (opts.checkpoints !== false) store.checkpointInBackground((m) => assert.fail(`checkpoint failed: ${m}`));
  const writer = new SqliteAppendThread(store.sqlitePath!, (m) => assert.fail(m), { indexing: opts.indexing });
  store.shareWriteLock(writer);
  registerSearchCatchUp(store.db, () => writer.catchUpSearchIndex());
  const appender = new MessageAppender(store.db, store.dialect, { writer, maxBatch: 16 });
  try {
    await fn({ store, appender, writer, dataDir: d.dataDir });
  } finally {
    await appender.close();
    await store.close();
    await store.close(); // twice: a server and its test may both close the store
    await d.drop();
  }
}

test('the writer answers in order once the message log is on disk, and once settled another connection sees every message', async () => {
  await withThread(async ({ store, appender, dataDir }) => {
    const customer = await createCustomer(store.db, { name: '线程写入' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const committed: number[] = [];
    appender.on('committed', (ms: StoredMessage[]) => committed.push(...ms.map((m) => m.seq)));
    // 200 sends at once: batches of 16, two in flight on the thread
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => appender.append({ conversationId: conversation.id, clientId: `c${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `第 ${i} 条` })));
    assert.deepEqual(acks.map((a) => a.message.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual(committed, Array.from({ length: 200 }, (_, i) => i + 1), 'broadcasts keep commit order');
    assert.equal(acks[0]!.message.customerId, customer.id);
    assert.equal(acks[0]!.conversationState, conversation.state);
    // a second connection, as after a restart, sees every acknowledged message once the apply thread caught up
    await appender.settled();
    const other = new SqliteDatabase(sqliteFile(dataDir), { readonly: true });
    try {
      assert.equal((other.prepare('select count(*) as n from message where conversation_id = ?').get(conversation.id) as { n: number }).n, 200);
    } finally {
      other.close();
    }
    const chains = await verifyMessageChains(store.db);
    assert.equal(chains.broken, null);
    assert.equal(chains.messages, 200);
  });
});

test('through the thread, a repeated clientId returns the first message and an unknown conversation is refused', async () => {
  await withThread(async ({ store, appender }) => {
    const customer = await createCustomer(store.db, { name: '幂等' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const send = (clientId: string) => appender.append({ conversationId: conversation.id, clientId, sender: { kind: 'customer', id: customer.id }, type: 'text', body: '你好' });
    const first = await send('same');
    // the same key in one batch and in a later one
    const [again, inBatch] = await Promise.all([send('same'), send('same')]);
    assert.equal(again.duplicate, true);
    assert.equal(inBatch.message.id, first.message.id);
    assert.equal(again.message.seq, 1);
    await assert.rejects(
      appender.append({ conversationId: 'conv_missing', clientId: 'x', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '你好' }),
      (e: unknown) => e instanceof AppendError && e.code === 'conversation_not_found',
    );
    await appender.settled();
    const n = await store.db.selectFrom('message').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 1);
  });
});

test('writes on the server connection while the thread commits wait for the lock instead of failing', async () => {
  await withThread(async ({ store, appender }) => {
    const customer = await createCustomer(store.db, { name: '并发' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const sends = Array.from({ length: 400 }, (_, i) => appender.append({ conversationId: conversation.id, clientId: `m${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `并发消息 ${i}` }));
    // each opens a conversation: a read, then writes, in one transaction on the main connection
    const opens: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) {
      opens.push(createCustomer(store.db, { name: `客户${i}` }).then((c) => openConversation(store.db, { customerId: c.id, channel: 'web' })));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([...sends, ...opens]);
    const count = await store.db.selectFrom('conversation').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 41);
  });
});

test('while the thread commits back to back, writes on the server connection take turns with it instead of waiting on the lock', async () => {
  await withThread(async ({ store, appender }) => {
    const customer = await createCustomer(store.db, { name: '满载' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: '线程已启动' });
    // a server-connection write that met the thread's lock would now fail at once instead of sleeping on the event loop
    store.sqlite!.pragma('busy_timeout = 1');
    // keep the thread busy: a full batch is always waiting when one commits
    let stop = false;
    let sent = 0;
    let outstanding = 0;
    const sends: Array<Promise<unknown>> = [];
    const pump = (async () => {
      while (!stop) {
        while (outstanding < 1500) {
          outstanding++;
          sends.push(appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `满载消息 ${sent++}` }).finally(() => outstanding--));
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < 30; i++) {
        // requests arrive now and then, between the thread's commits: one write outside a transaction, one inside
        await new Promise((r) => setTimeout(r, 3));
        await createCustomer(store.db, { name: `写入${i}` });
        await openConversation(store.db, { customerId: customer.id, channel: 'web', openClientId: `w${i}` });
      }
    } finally {
      stop = true;
      await pump;
      await Promise.all(sends);
      store.sqlite!.pragma('busy_timeout = 5000');
    }
    assert.ok(sent > 1500, `the thread was kept busy (${sent} messages)`);
    const n = await store.db.selectFrom('customer').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 31);
    // without the checkpoint thread: its once-a-second RESTART holds writers back for up to 20 ms, which a 1 ms busy
    // timeout would report as well
  }, { checkpoints: false });
});

test('under a steady stream of commits the checkpoints catch up and the WAL starts again instead of growing', async () => {
  await withThread(async ({ store, appender, dataDir }) => {
    const customer = await createCustomer(store.db, { name: '持续写入' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const walFile = `${sqliteFile(dataDir)}-wal`;
    // the WAL header's checkpoint sequence number counts the times the log started again from its beginning
    const restarts = () => {
      const header = Buffer.alloc(16);
      const fd = fs.openSync(walFile, 'r');
      try {
        fs.readSync(fd, header, 0, 16, 0);
      } finally {
        fs.closeSync(fd);
      }
      return header.readUInt32BE(12);
    };
    const before = restarts();
    // write without a pause until the log has started again twice: the second restart can only come from a
    // checkpoint that caught up between commits of the stream. A slow machine only makes the stream longer.
    const deadline = Date.now() + 60_000;
    let i = 0;
    while (restarts() - before < 2 && Date.now() < deadline) {
      await Promise.all(Array.from({ length: 50 }, () => appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `持续写入 ${i++}` })));
    }
    assert.ok(restarts() - before >= 2, `the log started again twice while the commits went on (${i} messages, ${restarts() - before} restarts)`);
  });
});

for (const which of ['log', 'apply'] as const) {
  test(`${which === 'log' ? 'a log' : 'an apply'} thread that dies fails the batches not yet logged, and the next message starts both threads again`, async () => {
    await withThread(async ({ store, appender, writer }) => {
      const customer = await createCustomer(store.db, { name: '线程崩溃' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      await appender.append({ conversationId: conversation.id, clientId: 'before', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '之前' });
      const thread = threadsOf(writer)[which]!;
      const held = appender.append({ conversationId: conversation.id, clientId: 'held', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '进行中' });
      await new Promise((r) => setImmediate(r));
      await thread.terminate();
      // it may have been logged before the thread died; either way the sender learns the outcome and may retry with the same key
      const outcome = await held.then(
        (r) => r.message.seq,
        (e: unknown) => (e instanceof AppendError ? e.code : 'unexpected'),
      );
      assert.ok(outcome === 2 || outcome === 'storage_failed', `held message: ${String(outcome)}`);
      const retry = await appender.append({ conversationId: conversation.id, clientId: 'held', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '进行中' });
      assert.equal(retry.message.seq, 2, 'the retry is stored once, after the first message');
      await appender.settled();
      const rows = await store.db.selectFrom('message').select(['seq', 'client_id']).where('conversation_id', '=', conversation.id).orderBy('seq').execute();
      assert.deepEqual(rows, [{ seq: 1, client_id: 'before' }, { seq: 2, client_id: 'held' }]);
    });
  });
}

test('the thread indexes after the commit: a search right after the acks still finds every message, also those a dead thread left', async () => {
  // the thread indexes only when asked, so what waits can be seen
  await withThread(
    async ({ store, appender, writer }) => {
      const customer = await createCustomer(store.db, { name: '索引延后' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      const send = (i: number) => appender.append({ conversationId: conversation.id, clientId: `k${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `物流第 ${i} 次查询` });
      const inIndex = () => countInIndex(store.db, 'sqlite', engineQueryFor('sqlite', '物流')!, {}, 1000);
      const searched = async () => (await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '物流', limit: 100 }), 'all')).total;
      await Promise.all(Array.from({ length: 40 }, (_, i) => send(i)));
      assert.equal(await inIndex(), 0, 'acknowledged, not indexed yet');
      assert.equal(await searched(), 40, 'the search asked the thread to catch up first');
      assert.equal(await inIndex(), 40);

      await Promise.all(Array.from({ length: 10 }, (_, i) => send(40 + i)));
      assert.equal(await inIndex(), 40);
      // the thread dies with 10 acknowledged messages unindexed; the next thread indexes them first
      await appender.settled();
      await threadsOf(writer).apply.terminate();
      assert.equal(await searched(), 50);
    },
    { indexing: { idleMs: 60_000, maxAgeMs: 60_000, maxWaiting: 100_000 } },
  );
});

test("while the thread writes search-index entries on its own, the server connection's writes take turns with it", async () => {
  await withThread(
    async ({ store, appender, writer }) => {
      const customer = await createCustomer(store.db, { name: '索引占锁' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      await Promise.all(Array.from({ length: 3000 }, (_, i) => appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `待索引的消息 ${i}` })));
      // no batch is in flight now, but the thread is about to hold the lock for a while
      store.sqlite!.pragma('busy_timeout = 1');
      try {
        const indexing = writer.catchUpSearchIndex();
        const ownWork = (writer as unknown as { turn: Int32Array }).turn;
        while (Atomics.load(ownWork, 1) === 0) await new Promise((r) => setImmediate(r));
        // well inside its transaction (3,000 entries take tens of ms)
        await new Promise((r) => setTimeout(r, 5));
        assert.equal(Atomics.load(ownWork, 1), 1, 'the thread is still indexing');
        await createCustomer(store.db, { name: '索引期间写入' });
        await indexing;
      } finally {
        store.sqlite!.pragma('busy_timeout = 5000');
      }
      assert.equal(await countInIndex(store.db, 'sqlite', engineQueryFor('sqlite', '索引')!, {}, 5000), 3000);
    },
    { checkpoints: false, indexing: { idleMs: 60_000, maxAgeMs: 60_000, maxWaiting: 100_000 } },
  );
});

test('messages acknowledged from the message log but never stored (a power loss took the WAL) are stored at the next start, chained and searchable', async () => {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  try {
    const customer = await createCustomer(store.db, { name: '断电恢复' });
    const conversations = await Promise.all([0, 1, 2].map((i) => openConversation(store.db, { customerId: customer.id, channel: 'web', openClientId: `open-${i}` })));
    // the apply thread receives the logged batches and stores none of them, as if the process died first
    const crashed = new SqliteAppendThread(store.sqlitePath!, (m) => assert.fail(m), { pauseApply: true });
    const first = new MessageAppender(store.db, store.dialect, { writer: crashed, maxBatch: 4 });
    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => first.append({ conversationId: conversations[i % 3]!.conversation.id, clientId: `k${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `断电前的第 ${i} 条退货消息` })),
    );
    const stored = async () => Number((await store.db.selectFrom('message').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    assert.equal(await stored(), 0, 'acknowledged, in the log only');
    assert.ok(first.unapplied() > 0, 'the appender reports the batches the database lacks');
    assert.ok(fs.readdirSync(crashed.logDir).some((f) => f.endsWith('.log')), 'the log holds them');
    // kill -9 of both threads: no close, no final sync
    await threadsOf(crashed).ready;
    await Promise.all([threadsOf(crashed).apply.terminate(), threadsOf(crashed).log!.terminate()]);

    const writer = new SqliteAppendThread(store.sqlitePath!, (m) => assert.fail(m));
    store.shareWriteLock(writer);
    registerSearchCatchUp(store.db, () => writer.catchUpSearchIndex());
    const appender = new MessageAppender(store.db, store.dialect, { writer });
    try {
      await threadsOf(writer).ready;
      assert.equal(await stored(), 30, 'the start stored what the log held');
      for (const a of acks) {
        const row = await store.db.selectFrom('message').select(['id', 'seq', 'hash']).where('id', '=', a.message.id).executeTakeFirstOrThrow();
        assert.deepEqual(row, { id: a.message.id, seq: a.message.seq, hash: a.message.hash });
      }
      // the next message follows the replayed ones; a retry of a replayed clientId is a duplicate
      const next = await appender.append({ conversationId: conversations[0]!.conversation.id, clientId: 'after', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '恢复之后' });
      assert.equal(next.message.seq, 11);
      const retry = await appender.append({ conversationId: conversations[0]!.conversation.id, clientId: 'k0', sender: { kind: 'customer', id: customer.id }, type: 'text', body: '断电前的第 0 条退货消息' });
      assert.equal(retry.duplicate, true);
      assert.equal(retry.message.id, acks[0]!.message.id);
      assert.equal((await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '退货', limit: 100 }), 'all')).total, 30);
      await appender.settled();
      assert.equal(appender.unapplied(), 0);
      const chains = await verifyMessageChains(store.db);
      assert.equal(chains.broken, null);
      assert.equal(chains.messages, 31);
      const head = await store.db.selectFrom('conversation').select(['last_seq']).where('id', '=', conversations[0]!.conversation.id).executeTakeFirstOrThrow();
      assert.equal(Number(head.last_seq), 11);
    } finally {
      await appender.close();
    }
    assert.equal(fs.existsSync(writer.logDir), false, 'a clean shutdown leaves no log to replay');
  } finally {
    await store.close();
    await d.drop();
  }
});

test('with no server on the database, a command line command first stores what a stopped server left in its message log', async () => {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  let closed = false;
  try {
    const customer = await createCustomer(store.db, { name: '命令行恢复' });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const crashed = new SqliteAppendThread(store.sqlitePath!, (m) => assert.fail(m), { pauseApply: true });
    const appender = new MessageAppender(store.db, store.dialect, { writer: crashed, maxBatch: 5 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => appender.append({ conversationId: conversation.id, clientId: `k${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `发票第 ${i} 张` })));
    await threadsOf(crashed).ready;
    await Promise.all([threadsOf(crashed).apply.terminate(), threadsOf(crashed).log!.terminate()]);
    await store.close();
    closed = true;

    const kefu = (...args: string[]) => spawnSync(process.execPath, [path.join(import.meta.dirname, '../../bin/kefu.mjs'), ...args], { env: { ...process.env, KEFU_DATA_DIR: d.dataDir, KEFU_DATABASE_URL: '', KEFU_LOG_LEVEL: 'silent' }, encoding: 'utf8' });
    const verify = kefu('verify');
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stderr, /stored 12 acknowledged messages from the message log/);
    assert.match(verify.stdout, /ok: 1 conversations?, 12 messages verified/);
    assert.equal(fs.existsSync(crashed.logDir), false, 'the log is gone once stored');
    const search = kefu('search', '发票', '--json');
    assert.equal(search.status, 0, search.stderr);
    assert.equal(search.stdout.trim().split('\n').filter(Boolean).length, 12, 'and searchable');
    assert.doesNotMatch(search.stderr, /stored/, 'nothing left to store the second time');
  } finally {
    if (!closed) await store.close();
    await d.drop();
  }
});
