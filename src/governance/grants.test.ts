import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { searchMessages, searchParamsSchema } from '../archive/search.ts';
import { AuditLog, LOCAL_OPERATOR, listAudit } from './audit.ts';
import { createUser, type User } from './users.ts';
import { createDepartment, createGroup } from './org.ts';
import { canReadConversation, canReadCustomer, canWriteConversation, grantUsedFor, sensitiveAmong, SENSITIVE_TAG, viewerOf, type Viewer } from './policies/conversations.ts';
import { GrantError, approveGrant, denyGrant, grantRequestSchema, listGrants, requestGrant, revokeGrant, type GrantDeps } from './grants.ts';

const HOUR = 3_600_000;

type Store = Awaited<ReturnType<typeof freshStore>>;

for (const dialect of testDialects()) {
  describe(`access grants (${dialect})`, () => {
    let store: Store;
    let deps: GrantDeps;
    let auditor: User, admin: User, admin2: User, agent: User;
    let asAuditor: Viewer, asAdmin: Viewer, asAgent: Viewer;
    // vip: a VIP customer's conversation; tagged: tagged 敏感; plain: neither; other: another department's complaint
    const conv: Record<'vip' | 'vip2' | 'tagged' | 'plain' | 'other', string> = { vip: '', vip2: '', tagged: '', plain: '', other: '' };
    let vipCustomerId = '';

    const ask = (who: User, body: unknown) => requestGrant(deps, { id: who.id, login: who.login, role: who.role }, grantRequestSchema.parse(body));
    const actor = (u: User) => ({ id: u.id, login: u.login, role: u.role });
    const reads = (v: Viewer, id: string) => canReadConversation(store.db, v, id);
    const searchIds = async (v: Viewer, q: string) =>
      [...new Set((await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, limit: 200 }), v)).hits.map((h) => h.conversationId))].sort();

    before(async () => {
      store = await freshStore(dialect);
      deps = { db: store.db, dialect: store.dialect, audit: new AuditLog(store.db, store.dialect) };
      const appender = new MessageAppender(store.db, store.dialect);
      const sales = await createDepartment(store.db, '销售部');
      const service = await createDepartment(store.db, '售后部');
      const presales = await createGroup(store.db, '售前', sales.id);
      const aftersales = await createGroup(store.db, '售后', service.id);
      auditor = await createUser(store.db, { login: 'shenji', password: 'auditor-password-1', role: 'auditor' });
      admin = await createUser(store.db, { login: 'guanli', password: 'admin-password-1', role: 'admin' });
      admin2 = await createUser(store.db, { login: 'guanli2', password: 'admin-password-2', role: 'admin' });
      agent = await createUser(store.db, { login: 'xiaowang', password: 'agent-password-1', role: 'agent', departmentId: sales.id });
      await store.db.insertInto('group_member').values({ group_id: presales.id, user_id: agent.id }).execute();

      const open = async (customer: { id: string }, groupId: string, text: string) => {
        const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
        await store.db.updateTable('conversation').set({ group_id: groupId }).where('id', '=', conversation.id).execute();
        await appender.append({ conversationId: conversation.id, clientId: randomUUID(), sender: { kind: 'customer', id: customer.id }, type: 'text', body: text });
        return conversation.id;
      };
      const vip = await createCustomer(store.db, { name: '王女士', vipLevel: 2 });
      vipCustomerId = vip.id;
      conv.vip = await open(vip, aftersales.id, '我的投诉单号 880011，商品质量有问题');
      conv.vip2 = await open(vip, aftersales.id, '上次的投诉还没有处理结果');
      conv.tagged = await open(await createCustomer(store.db, { name: '李先生' }), aftersales.id, '我要起诉你们，律师函已经寄出');
      await store.db.insertInto('conversation_tag').values({ conversation_id: conv.tagged, tag: SENSITIVE_TAG }).execute();
      conv.plain = await open(await createCustomer(store.db, { name: '张先生' }), aftersales.id, '请问发票什么时候开');
      conv.other = await open(await createCustomer(store.db, { name: '赵女士' }), aftersales.id, '售后投诉：退货被拒');
      asAuditor = await viewerOf(store.db, auditor);
      asAdmin = await viewerOf(store.db, admin);
      asAgent = await viewerOf(store.db, agent);
    });
    after(async () => store.drop());

    test('sensitive conversations (VIP customers, tagged 敏感) are outside an auditor’s scope; the rest is readable', async () => {
      assert.deepEqual([...(await sensitiveAmong(store.db, Object.values(conv)))].sort(), [conv.vip, conv.vip2, conv.tagged].sort());
      for (const id of [conv.vip, conv.vip2, conv.tagged]) assert.equal(await reads(asAuditor, id), false);
      for (const id of [conv.plain, conv.other]) assert.equal(await reads(asAuditor, id), true);
      for (const id of Object.values(conv)) assert.equal(await reads(asAdmin, id), false, 'admins read no content without a grant');
      assert.deepEqual(await searchIds(asAuditor, '投诉'), [conv.other]);
    });

    test('an agent keeps reading a conversation it replied in after it went to another group; a colleague does not', async () => {
      const colleague = await viewerOf(store.db, await createUser(store.db, { login: 'xiaoli', password: 'agent-password-2', role: 'agent', departmentId: agent.departmentId }));
      const customer = await createCustomer(store.db, { name: '孙先生' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      const aftersales = (await store.db.selectFrom('conversation').select('group_id').where('id', '=', conv.other).executeTakeFirstOrThrow()).group_id;
      await store.db.updateTable('conversation').set({ group_id: aftersales }).where('id', '=', conversation.id).execute();
      assert.equal(await reads(asAgent, conversation.id), false, 'another group’s conversation');
      const appender = new MessageAppender(store.db, store.dialect);
      // the reply the agent wrote before the conversation moved, twice: one participant row
      for (const body of ['您好，这边帮您转到售后', '售后同事会联系您']) {
        await appender.append({ conversationId: conversation.id, clientId: randomUUID(), sender: { kind: 'agent', id: agent.id }, type: 'text', body });
      }
      assert.equal(await reads(asAgent, conversation.id), true);
      assert.equal(await reads(colleague, conversation.id), false);
      const rows = await store.db.selectFrom('conversation_participant').selectAll().where('conversation_id', '=', conversation.id).execute();
      assert.deepEqual(rows, [{ conversation_id: conversation.id, user_id: agent.id }]);
    });

    test('a request needs a reason of 5 characters, a duration of 1 hour to 30 days, and a scope that exists', async () => {
      const base = { kind: 'customer', customerId: vipCustomerId, durationHours: 24, reason: '客诉复核，需要查看' };
      assert.equal(grantRequestSchema.safeParse({ ...base, reason: '看看' }).success, false);
      assert.equal(grantRequestSchema.safeParse({ ...base, durationHours: 0 }).success, false);
      assert.equal(grantRequestSchema.safeParse({ ...base, durationHours: 721 }).success, false);
      assert.equal(grantRequestSchema.safeParse({ ...base, extra: 1 }).success, false);
      await assert.rejects(ask(auditor, { ...base, customerId: 'cus_nobody' }), (e: GrantError) => e.code === 'invalid');
      await assert.rejects(ask(auditor, { kind: 'conversations', conversationIds: [conv.vip, 'conv_nobody'], durationHours: 1, reason: '核查投诉处理过程' }), (e: GrantError) => e.code === 'invalid' && /conv_nobody/.test(e.message));
      await assert.rejects(ask(auditor, { kind: 'query', query: { q: '' }, durationHours: 1, reason: '核查所有会话内容' }), (e: GrantError) => e.code === 'invalid');
    });

    test('request → self-approval refused → approved by another admin: the covered conversation is readable, nothing else', async () => {
      const g = await ask(admin, { kind: 'conversations', conversationIds: [conv.vip], durationHours: 2, reason: '法务调取投诉记录' });
      assert.equal(g.state, 'requested');
      assert.equal(await reads(asAdmin, conv.vip), false, 'a request alone gives nothing');
      await assert.rejects(approveGrant(deps, g.id, actor(admin)), (e: GrantError) => e.code === 'self_approval');
      await assert.rejects(approveGrant(deps, g.id, actor(agent)), (e: GrantError) => e.code === 'forbidden');
      const approved = await approveGrant(deps, g.id, actor(admin2));
      assert.equal(approved.state, 'approved');
      assert.equal(approved.conversations, 1);
      assert.ok(Math.abs(Date.parse(approved.expiresAt!) - Date.parse(approved.decidedAt!) - 2 * HOUR) < 1000);
      assert.equal(await reads(asAdmin, conv.vip), true);
      assert.equal(await reads(asAdmin, conv.vip2), false, 'the same customer’s other conversation is not covered');
      assert.equal(await canWriteConversation(store.db, asAdmin, conv.vip), false, 'a grant lets read, never write');
      assert.equal(await grantUsedFor(store.db, asAdmin, { conversationId: conv.vip }), g.id);
      assert.equal(await canReadCustomer(store.db, asAdmin, vipCustomerId), true);
      await assert.rejects(approveGrant(deps, g.id, actor(admin2)), (e: GrantError) => e.code === 'not_pending');
      const audit = await listAudit(store.db, { action: 'grant.approve' });
      assert.equal(audit[0]!.target?.id, g.id);
      assert.equal(audit[0]!.actor.login, 'guanli2');
    });

    test('a customer grant covers that customer’s conversations, in reads and in search', async () => {
      const g = await ask(auditor, { kind: 'customer', customerId: vipCustomerId, durationHours: 24, reason: '客户投诉升级复核' });
      await approveGrant(deps, g.id, LOCAL_OPERATOR);
      assert.equal(await reads(asAuditor, conv.vip), true);
      assert.equal(await reads(asAuditor, conv.vip2), true);
      assert.equal(await reads(asAuditor, conv.tagged), false);
      assert.deepEqual(await searchIds(asAuditor, '投诉'), [conv.vip, conv.vip2, conv.other].sort());
      assert.equal(await grantUsedFor(store.db, asAuditor, { conversationId: conv.plain }), null, 'own scope needs no grant');
      await revokeGrant(deps, g.id, actor(auditor));
      assert.equal(await reads(asAuditor, conv.vip), false, 'given up by the requester');
    });

    test('a query grant covers the conversations with a message the query finds', async () => {
      const g = await ask(auditor, { kind: 'query', query: { q: '律师函' }, durationHours: 1, reason: '法务函件核查' });
      const approved = await approveGrant(deps, g.id, actor(admin));
      assert.equal(approved.conversations, 1);
      assert.equal(await reads(asAuditor, conv.tagged), true);
      assert.equal(await reads(asAuditor, conv.vip), false);
      await revokeGrant(deps, g.id, actor(admin));
    });

    test('an expired grant gives nothing, and shows as expired', async () => {
      const g = await ask(auditor, { kind: 'conversations', conversationIds: [conv.tagged], durationHours: 1, reason: '过期测试用的申请' });
      // approved two hours ago for one hour: expired an hour ago
      await approveGrant(deps, g.id, actor(admin), { now: Date.now() - 2 * HOUR });
      assert.equal(await reads(asAuditor, conv.tagged), false);
      assert.equal((await listGrants(store.db, { requesterId: auditor.id })).find((x) => x.id === g.id)!.state, 'expired');
      await assert.rejects(revokeGrant(deps, g.id, actor(admin)), (e: GrantError) => e.code === 'not_active');
    });

    test('a denied request gives nothing; deciding twice is refused', async () => {
      const g = await ask(auditor, { kind: 'conversations', conversationIds: [conv.vip2], durationHours: 1, reason: '想看看这个会话' });
      const denied = await denyGrant(deps, g.id, actor(admin), '理由不充分');
      assert.equal(denied.state, 'denied');
      assert.equal(denied.decisionNote, '理由不充分');
      assert.equal(await reads(asAuditor, conv.vip2), false);
      await assert.rejects(approveGrant(deps, g.id, actor(admin)), (e: GrantError) => e.code === 'not_pending');
    });

    test('revoking ends access at once; an agent may ask for another department’s conversation and read, not write, it', async () => {
      assert.equal(await reads(asAgent, conv.other), false);
      const g = await ask(agent, { kind: 'conversations', conversationIds: [conv.other], durationHours: 4, reason: '跨部门投诉协查' });
      await approveGrant(deps, g.id, actor(admin));
      assert.equal(await reads(asAgent, conv.other), true);
      assert.equal(await canWriteConversation(store.db, asAgent, conv.other), false);
      assert.equal((await revokeGrant(deps, g.id, actor(admin), { note: '协查结束' })).state, 'revoked');
      assert.equal(await reads(asAgent, conv.other), false);
      await assert.rejects(revokeGrant(deps, g.id, actor(admin)), (e: GrantError) => e.code === 'not_active');
    });

    test('someone else’s grant cannot be revoked by a non-approver; it looks missing', async () => {
      const g = await ask(auditor, { kind: 'conversations', conversationIds: [conv.vip], durationHours: 1, reason: '复核投诉的记录' });
      await assert.rejects(revokeGrant(deps, g.id, actor(agent)), (e: GrantError) => e.code === 'not_found');
      assert.equal((await revokeGrant(deps, g.id, actor(auditor))).state, 'revoked', 'a requester withdraws their own request');
    });

    test('each step is audited: request, approve, deny, revoke', async () => {
      const actions = new Set((await listAudit(store.db, { limit: 1000 })).map((e) => e.action));
      for (const a of ['grant.request', 'grant.approve', 'grant.deny', 'grant.revoke']) assert.ok(actions.has(a), a);
      const local = await listAudit(store.db, { actor: 'local-operator', action: 'grant.approve' });
      assert.equal(local.length, 1);
    });
  });
}
