import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { countExportRows, exportMessages } from '../archive/export/index.ts';
import { AuditLog, listAudit } from './audit.ts';
import { createUser, type User } from './users.ts';
import { PolicyError } from './auth-policy.ts';
import { canReadConversation, unmaskGrantFor, unmaskGrantsOf, viewerOf, type Viewer } from './policies/conversations.ts';
import { grantApproverRoles, mayDecideOn, setGrantApproverRoles } from './policies/grants.ts';
import { GrantError, approveGrant, denyGrant, grantRequestSchema, listGrants, requestGrant, revokeGrant, type GrantDeps } from './grants.ts';

type Store = Awaited<ReturnType<typeof freshStore>>;

const ORIGINAL = '我的手机 138 0013 8000，卡号 6222 0212 3456 7897，订单 202611250001';

for (const dialect of testDialects()) {
  describe(`unmask grants and approver roles (${dialect})`, () => {
    let store: Store;
    let deps: GrantDeps;
    let agent: User, supervisor: User, admin: User, agent2: User;
    let asAgent: Viewer;
    const conv = { mine: '', other: '' };

    const ask = (who: User, body: unknown) => requestGrant(deps, { id: who.id, login: who.login, role: who.role }, grantRequestSchema.parse(body));
    const actor = (u: User) => ({ id: u.id, login: u.login, role: u.role });
    const exportText = async (v: Viewer) => {
      const chunks: Buffer[] = [];
      const out = new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) });
      await exportMessages(store, { q: '' }, { format: 'csv', scope: { unmaskedFor: v }, out, mask: false, timeZone: 'UTC' });
      return Buffer.concat(chunks).toString('utf8');
    };

    before(async () => {
      store = await freshStore(dialect);
      deps = { db: store.db, dialect: store.dialect, audit: new AuditLog(store.db, store.dialect) };
      const appender = new MessageAppender(store.db, store.dialect);
      agent = await createUser(store.db, { login: 'xiaowang', password: 'agent-password-1', role: 'agent' });
      agent2 = await createUser(store.db, { login: 'xiaoli', password: 'agent-password-2', role: 'agent' });
      supervisor = await createUser(store.db, { login: 'zhuguan', password: 'supervisor-password-1', role: 'supervisor' });
      admin = await createUser(store.db, { login: 'guanli', password: 'admin-password-1', role: 'admin' });
      for (const key of ['mine', 'other'] as const) {
        const customer = await createCustomer(store.db, { name: `客户${key}` });
        const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
        await store.db.updateTable('conversation').set({ assignee_id: agent.id, state: 'assigned' }).where('id', '=', conversation.id).execute();
        await appender.append({ conversationId: conversation.id, clientId: randomUUID(), sender: { kind: 'customer', id: customer.id }, type: 'text', body: ORIGINAL });
        conv[key] = conversation.id;
      }
      asAgent = await viewerOf(store.db, agent);
    });
    after(async () => store.drop());

    test('reading a conversation is not unmasking it: no grant, or a grant without unmask, gives no unmask', async () => {
      assert.equal(await canReadConversation(store.db, asAgent, conv.mine), true);
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), null);
      const readOnly = await ask(agent, { kind: 'conversations', conversationIds: [conv.mine], durationHours: 4, reason: '复核投诉记录' });
      assert.equal(readOnly.unmask, false);
      await approveGrant(deps, readOnly.id, actor(admin));
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), null);
      assert.deepEqual(await unmaskGrantsOf(store.db, asAgent), []);
      assert.equal(await countExportRows(store, { q: '' }, { unmaskedFor: asAgent }), 0, 'an unmasked export without an unmask grant holds nothing');
    });

    test('an approved unmask grant allows unmasking exactly what it covers, until it is revoked or expires', async () => {
      const g = await ask(agent, { kind: 'conversations', conversationIds: [conv.mine], durationHours: 4, reason: '核对客户留下的联系方式', unmask: true });
      assert.equal(g.unmask, true);
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), null, 'a pending request allows nothing');
      const approved = await approveGrant(deps, g.id, actor(admin));
      assert.equal(approved.unmask, true);
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), g.id);
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.other), null, 'a conversation the grant does not cover stays masked');
      assert.equal(await unmaskGrantFor(store.db, await viewerOf(store.db, agent2), conv.mine), null, 'a grant is its requester’s only');
      assert.deepEqual(await unmaskGrantsOf(store.db, asAgent), [g.id]);
      // an unmasked export covers only the unmask grant's conversations, as written
      assert.equal(await countExportRows(store, { q: '' }, { unmaskedFor: asAgent }), 1);
      const csv = await exportText(asAgent);
      assert.ok(csv.includes(conv.mine) && !csv.includes(conv.other));
      assert.ok(csv.includes('138 0013 8000') && csv.includes('6222 0212 3456 7897'));

      await store.db.updateTable('access_grant').set({ expires_at: Date.now() - 1 }).where('id', '=', g.id).execute();
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), null, 'expired');
      await store.db.updateTable('access_grant').set({ expires_at: Date.now() + 3_600_000 }).where('id', '=', g.id).execute();
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), g.id);
      await revokeGrant(deps, g.id, actor(agent));
      assert.equal(await unmaskGrantFor(store.db, asAgent, conv.mine), null, 'revoked');
      assert.equal(await countExportRows(store, { q: '' }, { unmaskedFor: asAgent }), 0);
    });

    test('the request and the approval record that the grant allows unmasking', async () => {
      const events = await listAudit(store.db, { limit: 100 });
      const requested = events.filter((e) => e.action === 'grant.request').map((e) => (e.detail as { unmask: boolean }).unmask);
      assert.deepEqual(requested.sort(), [false, true]);
      const approved = events.filter((e) => e.action === 'grant.approve').map((e) => (e.detail as { unmask: boolean }).unmask);
      assert.deepEqual(approved.sort(), [false, true]);
      assert.equal(grantRequestSchema.safeParse({ kind: 'customer', customerId: 'c', reason: '核对联系方式', durationHours: 1, unmask: 'yes' }).success, false);
    });

    test('approvers: admins by default; a configured role approves others’ requests, never its own', async () => {
      assert.deepEqual(await grantApproverRoles(store.db), ['admin']);
      const byAgent = await ask(agent, { kind: 'conversations', conversationIds: [conv.other], durationHours: 1, reason: '核对客户留下的联系方式', unmask: true });
      await assert.rejects(approveGrant(deps, byAgent.id, actor(supervisor)), (e: GrantError) => e.code === 'forbidden' && /only admin/.test(e.message));

      assert.deepEqual(await setGrantApproverRoles(store.db, ['supervisor', 'admin']), { from: ['admin'], to: ['supervisor', 'admin'] });
      assert.deepEqual(await grantApproverRoles(store.db), ['supervisor', 'admin']);
      assert.equal((await approveGrant(deps, byAgent.id, actor(supervisor))).approver?.login, 'zhuguan');
      const bySupervisor = await ask(supervisor, { kind: 'conversations', conversationIds: [conv.other], durationHours: 1, reason: '复核投诉的处理过程' });
      await assert.rejects(approveGrant(deps, bySupervisor.id, actor(supervisor)), (e: GrantError) => e.code === 'self_approval');
      await assert.rejects(denyGrant(deps, bySupervisor.id, actor(supervisor), '不需要'), (e: GrantError) => e.code === 'self_approval');
      await assert.rejects(approveGrant(deps, bySupervisor.id, actor(agent2)), (e: GrantError) => e.code === 'forbidden');
      assert.equal((await approveGrant(deps, bySupervisor.id, actor(admin))).state, 'approved');
      // a supervisor approver may end anyone's grant, as admins may
      assert.equal((await revokeGrant(deps, byAgent.id, actor(supervisor))).state, 'revoked');
      assert.equal(mayDecideOn({ id: null, login: 'local-operator', role: 'operator' }, agent.id, ['admin']), 'ok', 'the local operator decides');

      await assert.rejects(setGrantApproverRoles(store.db, ['supervisor']), (e: PolicyError) => e instanceof PolicyError && /must include admin/.test(e.message));
      await assert.rejects(setGrantApproverRoles(store.db, ['admin', 'boss']), (e: PolicyError) => /unknown role boss/.test(e.message));
      assert.deepEqual((await setGrantApproverRoles(store.db, ['admin'])).to, ['admin']);
      await assert.rejects(approveGrant(deps, (await ask(agent, { kind: 'conversations', conversationIds: [conv.mine], durationHours: 1, reason: '再次核对联系方式' })).id, actor(supervisor)), (e: GrantError) => e.code === 'forbidden');
      assert.ok((await listGrants(store.db, { pending: true })).length >= 1);
    });
  });
}
