import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, AppendError, MAX_BATCH } from './appender.ts';
import { openConversation, listMessagesAfter } from './conversations.ts';
import { GENESIS_HASH, chainHash } from './chain.ts';

for (const dialect of testDialects()) {
  describe(`message rules (${dialect})`, () => {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let appender: MessageAppender;
    before(async () => {
      store = await freshStore(dialect);
      appender = new MessageAppender(store.db, store.dialect);
    });
    after(async () => store.drop());

    async function newConversation() {
      const customer = await createCustomer(store.db, { name: '测试客户' });
      return (await openConversation(store.db, { customerId: customer.id, channel: 'web' })).conversation;
    }
    const customerSays = (conversationId: string, body: string, clientId: string | null = null) =>
      appender.append({ conversationId, clientId, sender: { kind: 'customer', id: null }, type: 'text', body });

    test('seq starts at 1 and is dense per conversation', async () => {
      const a = await newConversation();
      const b = await newConversation();
      const r1 = await customerSays(a.id, '你好');
      const r2 = await customerSays(b.id, '在吗');
      const r3 = await customerSays(a.id, '我的订单没收到');
      assert.deepEqual([r1.message.seq, r2.message.seq, r3.message.seq], [1, 1, 2]);
    });

    test('each hash chains the previous hash and the canonical message', async () => {
      const c = await newConversation();
      await customerSays(c.id, '第一条');
      await customerSays(c.id, '第二条');
      await customerSays(c.id, '第三条');
      const ms = await listMessagesAfter(store.db, c.id, 0);
      let prev = GENESIS_HASH;
      for (const m of ms) {
        const expected = chainHash(prev, { conversationId: m.conversationId, seq: m.seq, senderKind: m.senderKind, senderId: m.senderId, type: m.type, body: m.body, createdAt: m.createdAt });
        assert.equal(m.hash, expected, `hash of seq ${m.seq}`);
        prev = m.hash;
      }
      assert.equal(ms.length, 3);
    });

    test('a retried clientId returns the first ack and stores nothing', async () => {
      const c = await newConversation();
      const first = await customerSays(c.id, '退款什么时候到账', 'client-1');
      const again = await customerSays(c.id, '退款什么时候到账', 'client-1');
      assert.equal(again.duplicate, true);
      assert.equal(again.message.id, first.message.id);
      assert.equal(again.message.seq, first.message.seq);
      assert.equal((await listMessagesAfter(store.db, c.id, 0)).length, 1);
    });

    test('the same clientId twice in one group commit is stored once', async () => {
      const c = await newConversation();
      const [a, b] = await Promise.all([customerSays(c.id, '同一条', 'dup'), customerSays(c.id, '同一条', 'dup')]);
      assert.equal(a.message.id, b.message.id);
      assert.equal([a.duplicate, b.duplicate].filter(Boolean).length, 1);
      assert.equal((await listMessagesAfter(store.db, c.id, 0)).length, 1);
    });

    test('the same clientId in different conversations are different messages', async () => {
      const a = await newConversation();
      const b = await newConversation();
      const ra = await customerSays(a.id, 'x', 'same');
      const rb = await customerSays(b.id, 'y', 'same');
      assert.notEqual(ra.message.id, rb.message.id);
    });

    test('an unknown conversation is refused and the rest of the batch is stored', async () => {
      const c = await newConversation();
      const results = await Promise.allSettled([customerSays(c.id, '正常'), customerSays('conv_missing', '丢失'), customerSays(c.id, '也正常')]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.ok((results[1] as PromiseRejectedResult).reason instanceof AppendError);
      assert.equal(((results[1] as PromiseRejectedResult).reason as AppendError).code, 'conversation_not_found');
      assert.equal(results[2].status, 'fulfilled');
      assert.deepEqual((await listMessagesAfter(store.db, c.id, 0)).map((m) => m.seq), [1, 2]);
    });

    test('500 concurrent appends to one conversation keep seq dense and unique', async () => {
      const c = await newConversation();
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => customerSays(c.id, `消息 ${i}`, `k${i}`)));
      const seqs = results.map((r) => r.message.seq).sort((x, y) => x - y);
      assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i + 1));
      const stored = await listMessagesAfter(store.db, c.id, 0);
      assert.deepEqual(stored.map((m) => m.seq), seqs);
    });

    test('sync returns exactly the messages after a seq', async () => {
      const c = await newConversation();
      for (let i = 1; i <= 5; i++) await customerSays(c.id, `m${i}`);
      assert.deepEqual((await listMessagesAfter(store.db, c.id, 3)).map((m) => m.body), ['m4', 'm5']);
      assert.deepEqual(await listMessagesAfter(store.db, c.id, 5), []);
    });

    test('a retried first send finds the conversation it opened', async () => {
      const customer = await createCustomer(store.db, { name: '重试客户' });
      const first = await openConversation(store.db, { customerId: customer.id, channel: 'web', openClientId: 'open-1' });
      const again = await openConversation(store.db, { customerId: customer.id, channel: 'web', openClientId: 'open-1' });
      assert.equal(first.created, true);
      assert.equal(again.created, false);
      assert.equal(again.conversation.id, first.conversation.id);
    });

    test('the conversation head and events follow the messages', async () => {
      const c = await newConversation();
      await customerSays(c.id, '一');
      const agentReply = await appender.append({ conversationId: c.id, clientId: null, sender: { kind: 'agent', id: 'usr_x' }, type: 'text', body: '二' });
      const head = await store.db.selectFrom('conversation').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
      assert.equal(Number(head.last_seq), 2);
      assert.equal(head.last_hash, agentReply.message.hash);
      assert.equal(Number(head.first_response_at), agentReply.message.createdAt);
      const kinds = await store.db.selectFrom('conversation_event').select('kind').where('conversation_id', '=', c.id).orderBy('id').execute();
      assert.deepEqual(kinds.map((k) => k.kind), ['created', 'message', 'message']);
    });

    test('a full group commit (2,048 messages in 2,048 conversations) stays within the statement limits', async () => {
      const conversations = [];
      for (let i = 0; i < MAX_BATCH; i++) conversations.push(await newConversation());
      const batches: number[] = [];
      const onCommit = (fresh: unknown[]) => batches.push(fresh.length);
      appender.on('committed', onCommit);
      const reply = (c: { id: string }) =>
        appender.append({ conversationId: c.id, clientId: `full-${c.id}`, sender: { kind: 'agent', id: 'usr_full' }, type: 'text', body: '您好，请问有什么可以帮您？', readBy: 'usr_full' });
      try {
        // appended in one tick: one batch, as large as the appender takes
        const first = await Promise.all(conversations.map(reply));
        assert.deepEqual(batches, [MAX_BATCH]);
        assert.ok(first.every((r) => r.message.seq === 1 && !r.duplicate));
        const retried = await Promise.all(conversations.map(reply));
        assert.ok(retried.every((r, i) => r.duplicate && r.message.id === first[i]!.message.id));
        assert.deepEqual(batches, [MAX_BATCH], 'the retries stored nothing');
      } finally {
        appender.off('committed', onCommit);
      }
      const ids = conversations.map((c) => c.id);
      const markers = await store.db.selectFrom('read_marker').select(['conversation_id', 'last_read_seq']).where('user_id', '=', 'usr_full').execute();
      assert.equal(markers.length, MAX_BATCH);
      assert.ok(markers.every((m) => Number(m.last_read_seq) === 1));
      const participants = await store.db.selectFrom('conversation_participant').select('conversation_id').where('user_id', '=', 'usr_full').execute();
      assert.deepEqual(participants.map((p) => p.conversation_id).sort(), [...ids].sort());
    });

    test("an agent's reply marks the conversation read up to it, in the same commit", async () => {
      const c = await newConversation();
      await customerSays(c.id, '在吗');
      await customerSays(c.id, '我要退货');
      const reply = await appender.append({ conversationId: c.id, clientId: 'r1', sender: { kind: 'agent', id: 'usr_reader' }, type: 'text', body: '您好', readBy: 'usr_reader' });
      const marker = await store.db.selectFrom('read_marker').selectAll().where('user_id', '=', 'usr_reader').where('conversation_id', '=', c.id).executeTakeFirstOrThrow();
      assert.equal(Number(marker.last_read_seq), reply.message.seq);
      await customerSays(c.id, '好的');
      const again = await appender.append({ conversationId: c.id, clientId: 'r1', sender: { kind: 'agent', id: 'usr_reader' }, type: 'text', body: '您好', readBy: 'usr_reader' });
      assert.equal(again.duplicate, true);
      const after = await store.db.selectFrom('read_marker').selectAll().where('user_id', '=', 'usr_reader').where('conversation_id', '=', c.id).executeTakeFirstOrThrow();
      assert.equal(Number(after.last_read_seq), reply.message.seq, 'a retried reply does not move the marker');
    });
  });
}
