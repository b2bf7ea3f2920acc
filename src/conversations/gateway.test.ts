import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects } from '../../test/support/databases.ts';
import { sql } from 'kysely';
import { CSRF, startTestServer, call, connected, nextEvent, type TestServer } from '../../test/support/server.ts';

for (const dialect of testDialects()) {
  describe(`realtime gateway (${dialect})`, () => {
    let t: TestServer;
    let cookie: string;
    before(async () => {
      t = await startTestServer(dialect);
      cookie = await t.login(`agent-${dialect}`);
    });
    after(async () => t.close());

    test('/metrics tells how long acknowledged messages waited for their group commit and for the commit itself', async () => {
      const count = async () => {
        const text = await (await fetch(`${t.url}/metrics`)).text();
        const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0); // a labelled counter has no line before its first count
        return { queued: value('kefu_message_queue_seconds_count'), commits: value('kefu_message_commit_seconds_count'), batches: value('kefu_message_commit_batch_size_count'), stored: value('kefu_messages_stored_total{sender="customer"}') };
      };
      const before = await count();
      const customer = t.customer();
      await nextEvent(customer, 'session');
      for (const n of [1, 2, 3]) assert.equal((await call(customer, 'message:send', { clientId: `metrics-${n}`, text: `第${n}条` })).ok, true);
      customer.disconnect();
      const after = await count();
      assert.equal(after.queued - before.queued, 3, 'one wait a message');
      assert.equal(after.commits - before.commits, after.batches - before.batches, 'one commit time a batch');
      assert.ok(after.commits - before.commits >= 1);
      assert.equal(after.stored - before.stored, 3);
      // how far the database is behind the acks (SQLite's message log): a number, 0 once nothing is behind
      const behind = Number(/^kefu_message_batches_unapplied (\S+)$/m.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1]);
      assert.ok(Number.isInteger(behind) && behind >= 0, `kefu_message_batches_unapplied ${behind}`);
    });

    test('round trip: customer → agent → customer', async () => {
      const agent = t.agent(cookie);
      await connected(agent);
      const customer = t.customer();
      const session = await nextEvent(customer, 'session');
      assert.match(session.visitorToken, /^[A-Za-z0-9_-]{43}$/);

      const newConv = nextEvent(agent, 'conversation:new');
      const agentSees = nextEvent(agent, 'message:new', (m) => m.text === '你好，我的快递还没到');
      const ack = await call(customer, 'message:send', { clientId: 'c1', text: '你好，我的快递还没到' });
      assert.equal(ack.ok, true);
      assert.equal(ack.seq, 1);
      assert.equal(ack.visitorToken, session.visitorToken);
      assert.equal((await newConv).id, ack.conversationId);
      const seen = await agentSees;
      assert.deepEqual(seen.sender.kind, 'customer');
      assert.equal(seen.messageId, ack.messageId);

      const customerSees = nextEvent(customer, 'message:new', (m) => m.sender.kind === 'agent');
      const reply = await call(agent, 'message:send', { conversationId: ack.conversationId, clientId: 'a1', text: '您好，我帮您查一下' });
      assert.equal(reply.ok, true);
      assert.equal(reply.seq, 2);
      const got = await customerSees;
      assert.equal(got.text, '您好，我帮您查一下');
      assert.equal(got.seq, 2);
      assert.ok(!Number.isNaN(Date.parse(got.createdAt)));
    });

    test('an agent keeps writing where they replied after the conversation moves on, claims it again when it is back in the queue; another agent is refused', async () => {
      const a = t.agent(cookie);
      const b = t.agent(await t.login(`agent-b-${dialect}`));
      await Promise.all([connected(a), connected(b)]);
      const customer = t.customer();
      const opened = await call(customer, 'message:send', { clientId: 'm1', text: '我想改收货地址' });
      const id = opened.conversationId;
      const assignee = async () => (await t.server.store.db.selectFrom('conversation').select('assignee_id').where('id', '=', id).executeTakeFirstOrThrow()).assignee_id;
      const aSends = (n: number) => call(a, 'message:send', { conversationId: id, clientId: `a${n}`, text: `好的，第 ${n} 次答复` });
      assert.equal((await aSends(1)).ok, true);
      const agentA = await assignee();
      assert.ok(agentA, 'the first reply claims the conversation');
      const refused = await call(b, 'message:send', { conversationId: id, clientId: 'b1', text: '我来接手' });
      assert.deepEqual([refused.ok, refused.code], [false, 'conversation_not_found']);

      // handed to a colleague of a group neither agent serves: the agent who replied there still may write (a
      // participant) and their reply leaves it with the colleague
      await sql`update conversation set assignee_id = 'usr_colleague', group_id = 'grp_elsewhere' where id = ${id}`.execute(t.server.store.db);
      assert.equal((await aSends(2)).ok, true);
      assert.equal(await assignee(), 'usr_colleague');
      assert.equal((await call(b, 'message:send', { conversationId: id, clientId: 'b2', text: '我来接手' })).ok, false);

      // back in the general queue: the next reply claims it again
      await sql`update conversation set assignee_id = null, group_id = null where id = ${id}`.execute(t.server.store.db);
      assert.equal((await aSends(3)).ok, true);
      assert.equal(await assignee(), agentA);
      b.disconnect();
    });

    test('reconnect with the visitor token and sync misses nothing', async () => {
      const first = t.customer();
      const { visitorToken } = await nextEvent(first, 'session');
      const ack = await call(first, 'message:send', { clientId: 'r1', text: '第一条' });
      first.disconnect();

      const agent = t.agent(cookie);
      await connected(agent);
      for (let i = 0; i < 3; i++) assert.equal((await call(agent, 'message:send', { conversationId: ack.conversationId, clientId: `offline-${i}`, text: `离线回复 ${i}` })).ok, true);

      const again = t.customer({ visitorToken });
      const session = await nextEvent(again, 'session');
      assert.equal(session.visitorToken, visitorToken);
      assert.deepEqual(session.conversations.map((c: { id: string }) => c.id), [ack.conversationId]);
      const sync = await call(again, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 1 });
      assert.equal(sync.ok, true);
      assert.deepEqual(sync.messages.map((m: { seq: number }) => m.seq), [2, 3, 4]);
      assert.deepEqual(sync.messages.map((m: { text: string }) => m.text), ['离线回复 0', '离线回复 1', '离线回复 2']);
    });

    test('a visitor cannot use another visitor’s conversation', async () => {
      const alice = t.customer();
      await nextEvent(alice, 'session');
      const ack = await call(alice, 'message:send', { clientId: 'x1', text: '私密内容' });
      const mallory = t.customer();
      await nextEvent(mallory, 'session');
      const send = await call(mallory, 'message:send', { conversationId: ack.conversationId, clientId: 'm1', text: '插话' });
      assert.deepEqual([send.ok, send.code], [false, 'conversation_not_found']);
      const sync = await call(mallory, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 0 });
      assert.equal(sync.ok, false);
      const syncOwn = await call(alice, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 0 });
      assert.equal(syncOwn.messages.length, 1);
    });

    test('a repeated clientId returns the first ack', async () => {
      const c = t.customer();
      await nextEvent(c, 'session');
      const a = await call(c, 'message:send', { clientId: 'same-1', text: '只存一次' });
      const b = await call(c, 'message:send', { clientId: 'same-1', text: '只存一次' });
      assert.deepEqual(b, a);
      const again = await call(c, 'message:send', { conversationId: a.conversationId, clientId: 'same-1', text: '只存一次' });
      assert.equal(again.messageId, a.messageId);
      const sync = await call(c, 'conversation:sync', { conversationId: a.conversationId, afterSeq: 0 });
      assert.equal(sync.messages.length, 1);
    });

    test('malformed payloads get {ok:false, error} and change nothing', async () => {
      const c = t.customer();
      await nextEvent(c, 'session');
      const base = await call(c, 'message:send', { clientId: 'ok-1', text: '正常消息' });
      const bad: unknown[] = [
        null,
        'text',
        42,
        [],
        {},
        { clientId: 'b1' },
        { clientId: 'b2', text: 123 },
        { clientId: 'b3', text: '' },
        { clientId: 'b4', text: '   ' },
        { clientId: 'b5', text: 'x'.repeat(5001) },
        { clientId: '', text: 'x' },
        { clientId: 'b6', text: 'x', conversationId: 7 },
        { clientId: 'b7', text: 'x', conversationId: 'conv_unknown' },
        { clientId: 'b8', text: 'x', extra: true },
        { clientId: { $gt: '' }, text: 'x' },
        { clientId: 'nul', text: 'a\u0000b' },
        { clientId: 'surrogate', text: 'broken \uD83D half' },
      ];
      for (const payload of bad) {
        const r = await call(c, 'message:send', payload);
        assert.equal(r.ok, false, `payload ${JSON.stringify(payload)?.slice(0, 60)} must be refused`);
        assert.equal(typeof r.error, 'string');
        assert.ok(r.error.length > 0);
      }
      assert.equal((await call(c, 'conversation:sync', { conversationId: base.conversationId, afterSeq: -1 })).ok, false);
      assert.equal((await call(c, 'conversation:sync', { conversationId: base.conversationId, afterSeq: '0' })).ok, false);
      assert.equal((await call(c, 'typing', { conversationId: base.conversationId })).ok, false);
      const sync = await call(c, 'conversation:sync', { conversationId: base.conversationId, afterSeq: 0 });
      assert.deepEqual(sync.messages.map((m: { text: string }) => m.text), ['正常消息']);
      const max = await call(c, 'message:send', { conversationId: base.conversationId, clientId: 'max', text: '字'.repeat(5000) });
      assert.equal(max.ok, true, '5,000 characters is allowed');
      // the server is still alive and serving
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    });

    test('an event without an ack callback does not crash the server', async () => {
      const c = t.customer();
      await nextEvent(c, 'session');
      c.emit('message:send', { clientId: 'noack', text: '没有回调' });
      c.emit('message:send', null);
      c.emit('conversation:sync');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await fetch(`${t.url}/healthz`)).status, 200);
    });

    test('200 concurrent sends keep seq dense and unique', async () => {
      const c = t.customer();
      await nextEvent(c, 'session');
      const first = await call(c, 'message:send', { clientId: 'p0', text: '开始' });
      const acks = await Promise.all(
        Array.from({ length: 200 }, (_, i) => call(c, 'message:send', { conversationId: first.conversationId, clientId: `p${i + 1}`, text: `并发 ${i}` })),
      );
      assert.ok(acks.every((a) => a.ok));
      const seqs = acks.map((a) => a.seq).sort((a, b) => a - b);
      assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 2));
      const sync = await call(c, 'conversation:sync', { conversationId: first.conversationId, afterSeq: 0 });
      assert.deepEqual(sync.messages.map((m: { seq: number }) => m.seq), Array.from({ length: 201 }, (_, i) => i + 1));
    });

    test('resolve and reopen are broadcast as conversation:updated', async () => {
      const agent = t.agent(cookie);
      await connected(agent);
      const c = t.customer();
      await nextEvent(c, 'session');
      const a = await call(c, 'message:send', { clientId: 'ro-1', text: '问题已解决了吗' });
      const claimed = nextEvent(agent, 'conversation:updated', (u) => u.id === a.conversationId && u.state === 'assigned');
      await call(agent, 'message:send', { conversationId: a.conversationId, clientId: 'ro-a', text: '已经处理好了' });
      await claimed;
      const resolved = nextEvent(agent, 'conversation:updated', (u) => u.id === a.conversationId && u.state === 'resolved');
      const customerSeesResolved = nextEvent(c, 'conversation:updated', (u) => u.state === 'resolved');
      const res = await fetch(`${t.url}/api/v1/conversations/${a.conversationId}/resolve`, { method: 'POST', headers: { cookie, ...CSRF } });
      assert.equal(res.status, 200);
      await resolved;
      await customerSeesResolved;
      const reopened = nextEvent(agent, 'conversation:updated', (u) => u.id === a.conversationId && u.state === 'assigned');
      assert.equal((await call(c, 'message:send', { conversationId: a.conversationId, clientId: 'ro-2', text: '又出问题了' })).ok, true);
      await reopened;
    });

    test('agents need a session; a customer typing reaches agents', async () => {
      const anon = t.agent('kefu_session=forged');
      await assert.rejects(connected(anon), /unauthorized/);
      const agent = t.agent(cookie);
      await connected(agent);
      const c = t.customer();
      await nextEvent(c, 'session');
      const a = await call(c, 'message:send', { clientId: 'ty', text: '在吗' });
      const typing = nextEvent(agent, 'typing', (e) => e.conversationId === a.conversationId);
      assert.equal((await call(c, 'typing', { conversationId: a.conversationId, typing: true })).ok, true);
      assert.equal((await typing).typing, true);
      const customerTyping = nextEvent(c, 'typing');
      assert.equal((await call(agent, 'typing', { conversationId: a.conversationId, typing: true })).ok, true);
      assert.equal((await customerTyping).sender.kind, 'agent');
      const read = nextEvent(c, 'read');
      assert.equal((await call(agent, 'read', { conversationId: a.conversationId, seq: 1 })).ok, true);
      assert.equal((await read).seq, 1);
    });
  });
}
