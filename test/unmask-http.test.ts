/**
 * Unmasking over HTTP: default views stay masked for everyone, grant holders included; 显示原文 (POST …/unmask) needs a
 * valid unmask grant covering the conversation and is audited as unmask; an unmasked export likewise; and the roles
 * that approve requests are an admin setting.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestServer, call, nextEvent, type TestServer } from './support/server.ts';
import { api } from './support/auth.ts';
import { listAudit } from '../src/governance/index.ts';

const ORIGINAL = '手机 139-1234-5678，邮箱 wang.fang@example.cn，订单 202611250001';
const LEAKS = ['139-1234-5678', '13912345678', 'wang.fang@example.cn'];

describe('unmasking over HTTP', () => {
  let t: TestServer;
  const cookie = { agent: '', supervisor: '', admin: '' };
  let conversationId = '';

  before(async () => {
    t = await startTestServer('sqlite');
    for (const role of ['agent', 'supervisor', 'admin'] as const) cookie[role] = await t.login(`u-${role}`, role);
    const customer = t.customer();
    await nextEvent(customer, 'session');
    conversationId = (await call(customer, 'message:send', { clientId: randomUUID(), text: ORIGINAL })).conversationId;
    // the customer's own contact details, as an integration or import would have stored them
    const db = t.server.store.db;
    const { customer_id } = await db.selectFrom('conversation').select('customer_id').where('id', '=', conversationId).executeTakeFirstOrThrow();
    await db.updateTable('customer').set({ phone: '13700001111', email: 'li.na@example.cn' }).where('id', '=', customer_id).execute();
  });
  after(async () => t.close());

  const messagesJson = async (who: keyof typeof cookie) => JSON.stringify((await api(t, 'GET', `/api/v1/conversations/${conversationId}/messages`, { cookie: cookie[who] })).body);

  test('without an unmask grant: masked everywhere, 显示原文 refused with a reason, bad bodies refused', async () => {
    const json = await messagesJson('agent');
    for (const leak of LEAKS) assert.ok(!json.includes(leak), leak);
    assert.ok(json.includes('202611250001'));
    const inbox = JSON.stringify((await api(t, 'GET', '/api/v1/conversations', { cookie: cookie.agent })).body);
    for (const leak of LEAKS) assert.ok(!inbox.includes(leak), `inbox preview leaks ${leak}`);
    const customerId: string = (await api(t, 'GET', `/api/v1/conversations/${conversationId}`, { cookie: cookie.agent })).body.conversation.customerId;
    const profile = JSON.stringify((await api(t, 'GET', `/api/v1/customers/${customerId}`, { cookie: cookie.agent })).body);
    for (const leak of ['13700001111', 'li.na@example.cn']) assert.ok(!profile.includes(leak), `the customer profile leaks ${leak}`);
    assert.deepEqual(JSON.parse(profile).mayUnmask, [], 'the customer page offers no 显示原文 without a grant');
    assert.equal((await api(t, 'GET', `/api/v1/conversations/${conversationId}`, { cookie: cookie.agent })).body.mayUnmask, false);
    const refused = await api(t, 'POST', `/api/v1/conversations/${conversationId}/unmask`, { cookie: cookie.agent, body: {} });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'unmask_grant_required');
    assert.equal((await api(t, 'POST', `/api/v1/conversations/${conversationId}/unmask`, { cookie: cookie.agent, body: { limit: 0 } })).status, 400);
    assert.equal((await api(t, 'POST', `/api/v1/conversations/${conversationId}/unmask`, { cookie: cookie.agent, body: { everything: true } })).status, 400);
    assert.equal((await api(t, 'POST', `/api/v1/conversations/cnv_nothing/unmask`, { cookie: cookie.agent, body: {} })).status, 404);
    const exp = await api(t, 'POST', '/api/v1/exports', { cookie: cookie.agent, body: { format: 'csv', unmask: true } });
    assert.equal(exp.status, 403);
    assert.equal(exp.body.error.code, 'unmask_grant_required');
  });

  test('with an approved unmask grant: still masked by default; 显示原文 shows the original and is audited', async () => {
    const asked = await api(t, 'POST', '/api/v1/grants', { cookie: cookie.agent, body: { kind: 'conversations', conversationIds: [conversationId], reason: '核对客户的联系方式', durationHours: 1, unmask: true } });
    assert.equal(asked.status, 201);
    assert.equal(asked.body.grant.unmask, true);
    const grantId: string = asked.body.grant.id;
    assert.equal((await api(t, 'POST', `/api/v1/grants/${grantId}/approve`, { cookie: cookie.admin, body: {} })).status, 200);

    assert.equal((await api(t, 'GET', `/api/v1/conversations/${conversationId}`, { cookie: cookie.agent })).body.mayUnmask, true);
    const json = await messagesJson('agent');
    for (const leak of LEAKS) assert.ok(!json.includes(leak), `the default view stays masked for a grant holder: ${leak}`);

    const shown = await api(t, 'POST', `/api/v1/conversations/${conversationId}/unmask`, { cookie: cookie.agent, body: { reason: '客户来电核对' } });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.grant, grantId);
    assert.equal(shown.body.messages[0].text, ORIGINAL);
    assert.equal(shown.body.messages[0].unmasked, true);
    assert.deepEqual(shown.body.messages[0].pii, ['email', 'mobile']);
    // the customer's contact details come with it; their profile stays masked
    assert.equal(shown.body.customer.phone, '13700001111');
    assert.equal(shown.body.customer.email, 'li.na@example.cn');
    assert.deepEqual(shown.body.customer.pii, ['phone', 'email']);
    const profile = JSON.stringify((await api(t, 'GET', `/api/v1/customers/${shown.body.customer.id}`, { cookie: cookie.agent })).body);
    assert.ok(!profile.includes('13700001111') && !profile.includes('li.na@example.cn'), 'the profile is still masked');
    // the customer page offers 显示原文 for exactly the conversations the grant covers, to its holder only
    assert.deepEqual(JSON.parse(profile).mayUnmask, [conversationId]);
    assert.deepEqual((await api(t, 'GET', `/api/v1/customers/${shown.body.customer.id}`, { cookie: cookie.supervisor })).body.mayUnmask, []);
    const [event] = await listAudit(t.server.store.db, { action: 'unmask' });
    assert.ok(event);
    assert.equal(event.actor.login, 'u-agent');
    assert.deepEqual(event.target, { type: 'conversation', id: conversationId });
    assert.equal(event.ip, '127.0.0.1');
    assert.deepEqual(event.detail, { grant: grantId, afterSeq: 0, messages: 1, withPii: [1], customerPii: ['phone', 'email'], reason: '客户来电核对' });
  });

  test('an unmasked export with the grant: the covered conversation as written, audited as export and unmask', async () => {
    const started = await api(t, 'POST', '/api/v1/exports', { cookie: cookie.agent, body: { format: 'csv', unmask: true, tz: 'UTC' } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.job.unmasked, true);
    const id: string = started.body.job.id;
    for (let i = 0; i < 100; i++) {
      if ((await api(t, 'GET', `/api/v1/exports/${id}`, { cookie: cookie.agent })).body.job.state === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const file = await (await fetch(`${t.url}/api/v1/exports/${id}/download`, { headers: { cookie: cookie.agent } })).text();
    assert.ok(file.includes('139-1234-5678') && file.includes('wang.fang@example.cn'), file);
    const masked = await api(t, 'POST', '/api/v1/exports', { cookie: cookie.agent, body: { format: 'csv' } });
    assert.equal(masked.body.job.unmasked, false);
    const events = await listAudit(t.server.store.db, { action: 'unmask' });
    assert.ok(events.some((e) => e.target?.type === 'export' && e.target.id === id && (e.detail as { grants: string[] }).grants.length === 1));
    const downloads = await listAudit(t.server.store.db, { action: 'export' });
    assert.ok(downloads.some((e) => (e.detail as { phase: string; unmasked?: boolean }).phase === 'downloaded' && (e.detail as { unmasked?: boolean }).unmasked === true));
  });

  test('approver roles: an admin adds supervisors (audited); a supervisor then decides, never on their own request', async () => {
    assert.deepEqual((await api(t, 'GET', '/api/v1/admin/settings/grant-approvers', { cookie: cookie.admin })).body, { roles: ['admin'], alwaysApprover: ['admin'] });
    const ask = async (who: keyof typeof cookie) =>
      (await api(t, 'POST', '/api/v1/grants', { cookie: cookie[who], body: { kind: 'conversations', conversationIds: [conversationId], reason: '复核处理过程', durationHours: 1 } })).body.grant.id as string;
    const byAgent = await ask('agent');
    assert.equal((await api(t, 'GET', '/api/v1/grants?mine=1', { cookie: cookie.supervisor })).body.mayDecide, false);
    assert.equal((await api(t, 'POST', `/api/v1/grants/${byAgent}/approve`, { cookie: cookie.supervisor, body: {} })).status, 403);

    assert.equal((await api(t, 'PUT', '/api/v1/admin/settings/grant-approvers', { cookie: cookie.admin, body: { roles: ['supervisor'] } })).status, 400);
    assert.equal((await api(t, 'PUT', '/api/v1/admin/settings/grant-approvers', { cookie: cookie.supervisor, body: { roles: ['supervisor', 'admin'] } })).status, 403);
    const set = await api(t, 'PUT', '/api/v1/admin/settings/grant-approvers', { cookie: cookie.admin, body: { roles: ['admin', 'supervisor'] } });
    assert.deepEqual(set.body.roles, ['supervisor', 'admin']);
    const [change] = await listAudit(t.server.store.db, { action: 'config.change' });
    assert.deepEqual(change!.target, { type: 'setting', id: 'grantApproverRoles' });
    assert.deepEqual(change!.detail, { from: ['admin'], to: ['supervisor', 'admin'] });

    assert.equal((await api(t, 'GET', '/api/v1/grants?mine=1', { cookie: cookie.supervisor })).body.mayDecide, true);
    const pending = await api(t, 'GET', '/api/v1/grants?pending=1', { cookie: cookie.supervisor });
    assert.ok(pending.body.grants.some((g: { id: string }) => g.id === byAgent));
    assert.equal((await api(t, 'POST', `/api/v1/grants/${byAgent}/approve`, { cookie: cookie.supervisor, body: {} })).status, 200);
    const own = await ask('supervisor');
    const self = await api(t, 'POST', `/api/v1/grants/${own}/approve`, { cookie: cookie.supervisor, body: {} });
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'self_approval');
  });
});
