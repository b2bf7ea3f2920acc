/**
 * Access grants over HTTP and the socket: the request–decision routes, and a grant honoured (and only while valid) by
 * every read path — conversation routes, customer page, search, socket sync — with live events of sensitive
 * conversations kept from the auditors' room.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { startTestServer, call, connected, nextEvent, type TestServer } from './support/server.ts';
import { listAudit } from '../src/governance/index.ts';

const CSRF = { 'x-kefu-csrf': '1' };

describe('access grants over HTTP and sockets', () => {
  let t: TestServer;
  const cookie: Record<'auditor' | 'admin' | 'agent', string> = { auditor: '', admin: '', agent: '' };
  let sensitive: { conversationId: string; customerId: string; socket: Socket };
  let plain: { conversationId: string; customerId: string; socket: Socket };

  const http = async (who: keyof typeof cookie, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { cookie: cookie[who], ...(method === 'GET' ? {} : CSRF), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    t = await startTestServer('sqlite');
    for (const role of ['auditor', 'admin', 'agent'] as const) cookie[role] = await t.login(`g-${role}`, role);
    const open = async (text: string) => {
      const socket = t.customer();
      await nextEvent(socket, 'session');
      const ack = await call(socket, 'message:send', { clientId: randomUUID(), text });
      const row = await t.server.store.db.selectFrom('conversation').select('customer_id').where('id', '=', ack.conversationId).executeTakeFirstOrThrow();
      return { conversationId: ack.conversationId as string, customerId: row.customer_id, socket };
    };
    sensitive = await open('我是VIP客户，投诉快递员态度');
    plain = await open('普通咨询：投诉的流程是什么');
    await t.server.store.db.updateTable('customer').set({ vip_level: 3 }).where('id', '=', sensitive.customerId).execute();
    // both conversations belong to another department: the agent reads neither without a grant
    const other = await t.server.store.db.selectFrom('app_user').select('id').where('login', '=', 'g-admin').executeTakeFirstOrThrow();
    await t.server.store.db.updateTable('conversation').set({ assignee_id: other.id, state: 'assigned' }).where('id', 'in', [sensitive.conversationId, plain.conversationId]).execute();
  });
  after(async () => t.close());

  test('an auditor is told a sensitive conversation needs a grant; others find it missing', async () => {
    for (const path of [`/api/v1/conversations/${sensitive.conversationId}`, `/api/v1/conversations/${sensitive.conversationId}/messages`, `/api/v1/customers/${sensitive.customerId}`]) {
      const r = await http('auditor', 'GET', path);
      assert.equal(r.status, 403, path);
      assert.equal(r.body.error.code, 'grant_required');
      assert.equal((await http('agent', 'GET', path)).status, 404);
      assert.equal((await http('admin', 'GET', path)).status, 404);
    }
    assert.equal((await http('auditor', 'GET', `/api/v1/conversations/${plain.conversationId}/messages`)).status, 200);
    const s = t.agent(cookie.auditor);
    await connected(s);
    assert.equal((await call(s, 'conversation:sync', { conversationId: sensitive.conversationId, afterSeq: 0 })).code, 'grant_required');
    s.disconnect();
  });

  test('requests are validated: 400 with a code and a message', async () => {
    for (const body of [
      { kind: 'conversations', conversationIds: [sensitive.conversationId], reason: '看看', durationHours: 1 },
      { kind: 'conversations', conversationIds: [sensitive.conversationId], reason: '投诉复核需要', durationHours: 24 * 31 },
      { kind: 'conversations', conversationIds: [], reason: '投诉复核需要', durationHours: 1 },
      { kind: 'everything', reason: '投诉复核需要', durationHours: 1 },
      { kind: 'query', query: { q: '投诉', sort: 'time' }, reason: '投诉复核需要', durationHours: 1 },
    ]) {
      const r = await http('auditor', 'POST', '/api/v1/grants', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.body.error.code && r.body.error.message);
    }
    const r = await http('auditor', 'POST', '/api/v1/grants', { kind: 'customer', customerId: 'cus_nobody', reason: '投诉复核需要', durationHours: 1 });
    assert.equal(r.body.error.code, 'invalid');
  });

  test('request, approval, reads everywhere with the grant id in the audit trail, then revocation', async () => {
    const requested = await http('auditor', 'POST', '/api/v1/grants', { kind: 'conversations', conversationIds: [sensitive.conversationId], reason: 'VIP 投诉复核', durationHours: 2 });
    assert.equal(requested.status, 201);
    const id: string = requested.body.grant.id;
    assert.equal(requested.body.grant.state, 'requested');

    assert.deepEqual((await http('auditor', 'GET', '/api/v1/grants')).body.grants.map((g: any) => g.id), [id]);
    assert.equal((await http('auditor', 'GET', '/api/v1/grants?pending=1')).status, 403);
    assert.equal((await http('auditor', 'POST', `/api/v1/grants/${id}/approve`)).status, 403);
    const pending = (await http('admin', 'GET', '/api/v1/grants?pending=1')).body.grants;
    assert.deepEqual(pending.map((g: any) => [g.id, g.preview.conversations]), [[id, 1]]);

    const approved = await http('admin', 'POST', `/api/v1/grants/${id}/approve`);
    assert.equal(approved.status, 200);
    assert.equal(approved.body.grant.state, 'approved');
    assert.equal((await http('admin', 'POST', `/api/v1/grants/${id}/approve`)).body.error.code, 'not_pending');

    const messages = await http('auditor', 'GET', `/api/v1/conversations/${sensitive.conversationId}/messages`);
    assert.equal(messages.status, 200);
    assert.equal(messages.body.messages[0].text, '我是VIP客户，投诉快递员态度');
    assert.equal((await http('auditor', 'GET', `/api/v1/customers/${sensitive.customerId}`)).status, 200);
    const hits = (await http('auditor', 'GET', `/api/v1/search?q=${encodeURIComponent('投诉')}`)).body.hits.map((h: any) => h.conversationId);
    assert.deepEqual([...new Set(hits)].sort(), [sensitive.conversationId, plain.conversationId].sort());
    assert.equal((await http('auditor', 'POST', `/api/v1/conversations/${sensitive.conversationId}/resolve`)).status, 403, 'still read-only');
    const s = t.agent(cookie.auditor);
    await connected(s);
    assert.equal((await call(s, 'conversation:sync', { conversationId: sensitive.conversationId, afterSeq: 0 })).ok, true);

    const views = (await listAudit(t.server.store.db, { actor: 'g-auditor', action: 'view' })).filter((e) => e.target?.id === sensitive.conversationId || e.target?.id === sensitive.customerId);
    assert.equal(views.length, 3, 'HTTP messages, customer page, socket sync');
    for (const v of views) assert.equal((v.detail as { grant?: string }).grant, id);
    const plainView = await http('auditor', 'GET', `/api/v1/conversations/${plain.conversationId}/messages`);
    assert.equal(plainView.status, 200);
    const [last] = await listAudit(t.server.store.db, { actor: 'g-auditor', action: 'view', limit: 1 });
    assert.equal((last!.detail as { grant?: string }).grant, undefined, 'own scope: no grant recorded');

    const revoked = await http('admin', 'POST', `/api/v1/grants/${id}/revoke`, { note: '复核完成' });
    assert.equal(revoked.body.grant.state, 'revoked');
    assert.equal((await http('auditor', 'GET', `/api/v1/conversations/${sensitive.conversationId}/messages`)).status, 403);
    assert.equal((await call(s, 'conversation:sync', { conversationId: sensitive.conversationId, afterSeq: 0 })).code, 'grant_required', 'an open socket loses access too');
    s.disconnect();
  });

  test('an agent may ask for a conversation of another department; an admin cannot approve their own request', async () => {
    const asked = await http('agent', 'POST', '/api/v1/grants', { kind: 'conversations', conversationIds: [plain.conversationId], reason: '跨部门投诉协查', durationHours: 1 });
    assert.equal((await http('agent', 'GET', `/api/v1/conversations/${plain.conversationId}`)).status, 404);
    await http('admin', 'POST', `/api/v1/grants/${asked.body.grant.id}/approve`, { note: '同意协查' });
    assert.equal((await http('agent', 'GET', `/api/v1/conversations/${plain.conversationId}/messages`)).status, 200);

    const own = await http('admin', 'POST', '/api/v1/grants', { kind: 'customer', customerId: sensitive.customerId, reason: '管理员自查记录', durationHours: 1 });
    const self = await http('admin', 'POST', `/api/v1/grants/${own.body.grant.id}/approve`);
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'self_approval');
    assert.equal((await http('admin', 'POST', `/api/v1/grants/${own.body.grant.id}/deny`, {})).status, 400, 'a denial says why');
    assert.equal((await http('admin', 'POST', `/api/v1/grants/${own.body.grant.id}/revoke`)).body.grant.state, 'revoked', 'withdrawn by its requester');
    const all = (await http('admin', 'GET', '/api/v1/grants?all=1')).body.grants.map((g: any) => g.state);
    assert.deepEqual(all, ['revoked', 'approved', 'revoked']);
  });

  test('live messages of a sensitive conversation do not reach auditors; others do', async () => {
    const s = t.agent(cookie.auditor);
    await connected(s);
    const seen: string[] = [];
    s.on('message:new', (m: { conversationId: string }) => seen.push(m.conversationId));
    await call(sensitive.socket, 'message:send', { conversationId: sensitive.conversationId, clientId: randomUUID(), text: '还有一件事' });
    const next = nextEvent(s, 'message:new', (m: { conversationId: string }) => m.conversationId === plain.conversationId);
    await call(plain.socket, 'message:send', { conversationId: plain.conversationId, clientId: randomUUID(), text: '好的谢谢' });
    await next;
    assert.deepEqual(seen, [plain.conversationId]);
    s.disconnect();
  });
});
