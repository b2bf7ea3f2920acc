import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import type { Store } from '../store/index.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { searchMessages, searchParamsSchema } from '../archive/index.ts';
import { AuditLog, LOCAL_OPERATOR, listAudit, verifyAuditChain } from './audit.ts';
import { verifyMessageChains } from './integrity.ts';
import { createGroup } from './org.ts';
import { addPolicy, governingPolicy, placeHold, purgeExpired, releaseHold, removePolicy, verifyPurgeRecords, type RetentionPolicy } from './retention.ts';

const DAY = 24 * 60 * 60 * 1000;

test('the most specific matching policy governs; equally specific ones give the longer keep', () => {
  const p = (name: string, keepDays: number, f: Partial<RetentionPolicy> = {}): RetentionPolicy => ({ id: name, name, keepDays, channel: null, groupId: null, tag: null, createdBy: 'x', createdAt: 0, ...f });
  const policies = [p('all', 365), p('email', 30, { channel: 'email' }), p('vip', 3650, { tag: 'vip' }), p('aftersales-email', 14, { channel: 'email', groupId: 'g1' })];
  assert.equal(governingPolicy(policies, { channel: 'web', groupId: null, tags: [] })?.name, 'all');
  assert.equal(governingPolicy(policies, { channel: 'email', groupId: null, tags: [] })?.name, 'email');
  assert.equal(governingPolicy(policies, { channel: 'email', groupId: null, tags: ['vip'] })?.name, 'vip');
  assert.equal(governingPolicy(policies, { channel: 'email', groupId: 'g1', tags: ['vip'] })?.name, 'aftersales-email');
  assert.equal(governingPolicy([p('email', 30, { channel: 'email' })], { channel: 'web', groupId: null, tags: [] }), undefined);
});

/** helpers over one database: conversations of a given age and state, and what is left of their messages */
function fixtures(store: Store) {
  const appender = new MessageAppender(store.db, store.dialect);
  return {
    appender,
    /** a conversation whose messages were written `ageDays` ago and that ended (or not) then */
    async conversation(o: { ageDays: number; state?: 'resolved' | 'closed' | 'assigned'; channel?: string; groupId?: string; tags?: string[]; customerId?: string; bodies?: string[] }) {
      const at = Date.now() - o.ageDays * DAY;
      const customerId = o.customerId ?? (await createCustomer(store.db, { name: '留存客户' })).id;
      const { conversation: c } = await openConversation(store.db, { customerId, channel: o.channel ?? 'web', createdAt: at });
      const bodies = o.bodies ?? ['你好，我要退货', '订单 20240518 已收到', '好的，已处理'];
      for (const [i, body] of bodies.entries()) {
        await appender.append({ conversationId: c.id, clientId: null, sender: { kind: i % 2 ? 'agent' : 'customer', id: null }, type: 'text', body, createdAt: at + i * 1000 });
      }
      const state = o.state ?? 'resolved';
      await store.db
        .updateTable('conversation')
        .set({ state, group_id: o.groupId ?? null, resolved_at: state === 'assigned' ? null : at + 60_000 })
        .where('id', '=', c.id)
        .execute();
      for (const tag of o.tags ?? []) await store.db.insertInto('conversation_tag').values({ conversation_id: c.id, tag }).execute();
      return { id: c.id, customerId };
    },
    /** the bodies of a conversation's messages in seq order, null for a purged one */
    async bodies(id: string) {
      return (await store.db.selectFrom('message').select(['body', 'purged_at']).where('conversation_id', '=', id).orderBy('seq').execute()).map((m) => (m.purged_at == null ? m.body : null));
    },
    /** the conversations a search finds */
    async found(q: string) {
      return (await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q }), 'all')).hits.map((h) => h.conversationId);
    },
  };
}

for (const dialect of testDialects()) {
  describe(`retention and legal hold (${dialect})`, () => {
    let store: Store & { drop(): Promise<void> };
    let fx: ReturnType<typeof fixtures>;
    before(async () => {
      store = await freshStore(dialect);
      fx = fixtures(store);
    });
    after(() => store.drop());
    const clearPolicies = () => store.db.deleteFrom('retention_policy').execute();

    test('the triggers let exactly the purge through and still refuse every other change', async () => {
      // a database of its own: this test leaves a blank behind that the other tests must not see
      const own = await freshStore(dialect);
      try {
        const { id } = await fixtures(own).conversation({ ageDays: 1 });
        const first = await own.db.selectFrom('message').selectAll().where('conversation_id', '=', id).where('seq', '=', 1).executeTakeFirstOrThrow();
        const refused = [
          sql`update message set body = 'changed' where id = ${first.id}`,
          sql`update message set body = '' where id = ${first.id}`,
          sql`update message set purged_at = 1 where id = ${first.id}`,
          sql`update message set body = 'other', purged_at = 1 where id = ${first.id}`,
          sql`update message set body = '', purged_at = 1, hash = ${'f'.repeat(64)} where id = ${first.id}`,
          sql`update message set body = '', purged_at = 1, created_at = 5 where id = ${first.id}`,
          sql`update message set body = '', purged_at = 1, sender_kind = 'agent' where id = ${first.id}`,
          sql`update message set body = '', purged_at = 1, seq = 9 where id = ${first.id}`,
          sql`delete from message where id = ${first.id}`,
        ];
        for (const q of refused) await assert.rejects(q.execute(own.db), /append-only/, q.compile(own.db).sql);
        await sql`update message set body = '', purged_at = 1 where id = ${first.id}`.execute(own.db);
        // a tombstone is final: it cannot be stamped again, refilled, or deleted
        await assert.rejects(sql`update message set purged_at = 2 where id = ${first.id}`.execute(own.db), /append-only/);
        await assert.rejects(sql`update message set body = 'back', purged_at = null where id = ${first.id}`.execute(own.db), /append-only/);
        await assert.rejects(sql`delete from message where id = ${first.id}`.execute(own.db), /append-only/);
        await new AuditLog(own.db, own.dialect).record({ actor: LOCAL_OPERATOR, action: 'search', query: { q: '退货' } });
        await assert.rejects(sql`update audit_event set actor_login = 'x'`.execute(own.db), /append-only/);
        const after = await own.db.selectFrom('message').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
        assert.deepEqual({ ...after, purged_at: Number(after.purged_at) }, { ...first, body: '', purged_at: 1 });
        // that blank was made behind kefu's back: the chain still links, but no audited purge accounts for it
        assert.equal((await verifyMessageChains(own.db)).broken, null);
        const r = await verifyPurgeRecords(own.db);
        assert.equal(r.broken?.conversationId, id);
        assert.equal(r.broken?.seq, 1);
        assert.match(r.broken!.reason, /no audited retention purge covers it/);
      } finally {
        await own.drop();
      }
    });

    test('purge empties expired conversations, keeps every chain verifiable, drops them from search and audits it', async () => {
      await clearPolicies();
      const expired = await fx.conversation({ ageDays: 40, bodies: ['我要申请退款 阿尔法快递', '请提供订单号', '订单号 778899'] });
      const closed = await fx.conversation({ ageDays: 45, state: 'closed', bodies: ['阿尔法快递 丢件了'] });
      const recent = await fx.conversation({ ageDays: 10, bodies: ['阿尔法快递 还没到'] });
      const open = await fx.conversation({ ageDays: 40, state: 'assigned', bodies: ['阿尔法快递 一直在处理中'] });
      assert.deepEqual(new Set(await fx.found('阿尔法快递')), new Set([expired.id, closed.id, recent.id, open.id]));
      const policy = await addPolicy(store, { name: '默认 30 天', keepDays: 30 }, LOCAL_OPERATOR);

      const dry = await purgeExpired(store, { actor: LOCAL_OPERATOR, dryRun: true });
      assert.deepEqual([dry.conversations, dry.messages], [2, 4]);
      assert.equal((await fx.bodies(expired.id))[0], '我要申请退款 阿尔法快递', 'a dry run changes nothing');
      const auditBefore = (await listAudit(store.db, { action: 'retention.purge' })).length;

      const r = await purgeExpired(store, { actor: LOCAL_OPERATOR });
      assert.deepEqual([r.dryRun, r.conversations, r.messages, r.held], [false, 2, 4, 0]);
      assert.deepEqual(r.byPolicy, [{ policyId: policy.id, name: '默认 30 天', keepDays: 30, conversations: 2, messages: 4 }]);
      assert.deepEqual(await fx.bodies(expired.id), [null, null, null]);
      assert.deepEqual(await fx.bodies(closed.id), [null]);
      assert.deepEqual(await fx.bodies(recent.id), ['阿尔法快递 还没到']);
      assert.deepEqual(await fx.bodies(open.id), ['阿尔法快递 一直在处理中']);
      const tomb = await store.db.selectFrom('message').selectAll().where('conversation_id', '=', expired.id).orderBy('seq').execute();
      assert.ok(tomb.every((m) => m.body === '' && Number(m.purged_at) === r.runAt && /^[0-9a-f]{64}$/.test(m.hash)));

      const chains = await verifyMessageChains(store.db);
      assert.equal(chains.broken, null);
      assert.ok(chains.purged >= 4);
      assert.deepEqual(new Set(await fx.found('阿尔法快递')), new Set([recent.id, open.id]));
      assert.deepEqual(await fx.found('778899'), []);

      const events = await listAudit(store.db, { action: 'retention.purge' });
      assert.equal(events.length, auditBefore + 1);
      const detail = events[0]!.detail as { runAt: number; messages: number; conversations: Record<string, number>; policies: Record<string, { conversations: number }> };
      assert.equal(detail.runAt, r.runAt);
      assert.equal(detail.messages, 4);
      assert.deepEqual(detail.conversations, { [expired.id]: 3, [closed.id]: 1 });
      assert.equal(detail.policies[policy.id]!.conversations, 2);
      assert.equal((await verifyAuditChain(store.db)).broken, null);
      assert.deepEqual((await verifyPurgeRecords(store.db)).broken, null);

      const again = await purgeExpired(store, { actor: LOCAL_OPERATOR });
      assert.deepEqual([again.conversations, again.messages], [0, 0]);
      assert.equal((await listAudit(store.db, { action: 'retention.purge' })).length, auditBefore + 1, 'a purge that empties nothing writes no event');

      // the customer writes again into the purged conversation: the chain continues from the tombstone's hash
      await fx.appender.append({ conversationId: expired.id, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: '我又来了' });
      assert.equal((await verifyMessageChains(store.db)).broken, null);
      await removePolicy(store, policy.id, LOCAL_OPERATOR);
    });

    test('legal holds and channel, group and tag policies decide what is purged', async () => {
      await clearPolicies();
      const group = await createGroup(store.db, `售后-${dialect}`, null);
      await addPolicy(store, { name: 'all', keepDays: 365 }, LOCAL_OPERATOR);
      await addPolicy(store, { name: 'email', keepDays: 30, channel: 'email' }, LOCAL_OPERATOR);
      await addPolicy(store, { name: 'vip', keepDays: 3650, tag: 'vip' }, LOCAL_OPERATOR);
      await addPolicy(store, { name: 'aftersales', keepDays: 7, group: group.name }, LOCAL_OPERATOR);
      const web = await fx.conversation({ ageDays: 60 });
      const email = await fx.conversation({ ageDays: 60, channel: 'email' });
      const vipEmail = await fx.conversation({ ageDays: 60, channel: 'email', tags: ['vip'] });
      const aftersales = await fx.conversation({ ageDays: 60, groupId: group.id });
      const heldConversation = await fx.conversation({ ageDays: 60, channel: 'email' });
      const heldCustomer = await fx.conversation({ ageDays: 60, channel: 'email' });
      const sameCustomer = await fx.conversation({ ageDays: 90, channel: 'email', customerId: heldCustomer.customerId });
      await placeHold(store, { targetType: 'conversation', target: heldConversation.id, reason: '案件 2024-001' }, LOCAL_OPERATOR);
      const customerHold = await placeHold(store, { targetType: 'customer', target: heldCustomer.customerId, reason: '仲裁 2024-017' }, LOCAL_OPERATOR);
      await assert.rejects(placeHold(store, { targetType: 'conversation', target: 'conv_nope', reason: 'x' }, LOCAL_OPERATOR), /does not exist/);

      const r = await purgeExpired(store, { actor: LOCAL_OPERATOR });
      assert.equal(r.held, 3);
      assert.deepEqual(new Set(r.byPolicy.map((p) => `${p.name}:${p.conversations}`)), new Set(['email:1', 'aftersales:1']));
      for (const kept of [web, vipEmail, heldConversation, heldCustomer, sameCustomer]) assert.ok((await fx.bodies(kept.id)).every((b) => b !== null), `${kept.id} kept`);
      for (const gone of [email, aftersales]) assert.ok((await fx.bodies(gone.id)).every((b) => b === null), `${gone.id} purged`);

      await releaseHold(store, customerHold.id, LOCAL_OPERATOR);
      await assert.rejects(releaseHold(store, customerHold.id, LOCAL_OPERATOR), /already released/);
      const next = await purgeExpired(store, { actor: LOCAL_OPERATOR });
      assert.deepEqual([next.conversations, next.held], [2, 1]);
      for (const gone of [heldCustomer, sameCustomer]) assert.ok((await fx.bodies(gone.id)).every((b) => b === null));
      assert.ok((await fx.bodies(heldConversation.id)).every((b) => b !== null));

      const actions = (await listAudit(store.db, { limit: 1000 })).map((e) => e.action);
      for (const a of ['retention.policy_add', 'hold.place', 'hold.release', 'retention.purge']) assert.ok(actions.includes(a), a);
      assert.equal((await verifyMessageChains(store.db)).broken, null);
      assert.equal((await verifyPurgeRecords(store.db)).broken, null);
    });

    test('a tombstone that still carries content, or a blank no purge recorded, is reported', async () => {
      const { id } = await fx.conversation({ ageDays: 1 });
      if (dialect === 'sqlite') await sql`drop trigger message_append_only_update`.execute(store.db);
      else await sql`alter table message disable trigger message_append_only`.execute(store.db);
      // marking a message as purged while keeping (or changing) its text would skip its hash check
      await sql`update message set purged_at = 1, body = '伪造' where conversation_id = ${id} and seq = 2`.execute(store.db);
      const r = await verifyMessageChains(store.db);
      assert.equal(r.broken?.conversationId, id);
      assert.equal(r.broken?.seq, 2);
      assert.match(r.broken!.reason, /marked as purged but still has content/);
      // a blank stamped with the time of a real purge run still does not add up with what that run recorded
      const run = await store.db.selectFrom('message').select('purged_at').where('purged_at', 'is not', null).where('purged_at', '!=', 1).limit(1).executeTakeFirstOrThrow();
      await sql`update message set purged_at = ${run.purged_at}, body = '' where conversation_id = ${id} and seq = 2`.execute(store.db);
      assert.equal((await verifyMessageChains(store.db)).broken, null);
      const p = await verifyPurgeRecords(store.db);
      assert.equal(p.broken?.conversationId, id);
      assert.equal(p.broken?.seq, 2);
    });
  });
}
