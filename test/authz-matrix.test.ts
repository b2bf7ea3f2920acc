/**
 * The authorisation matrix: every HTTP route and every client socket event × every role (and no session), against a
 * conversation in the general queue (Q) and one privately assigned to an agent of another department (P).
 * A route or event without an entry here fails the test, so nothing new ships unreviewed.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CSRF, startTestServer, call, connected, nextEvent, type TestServer } from './support/server.ts';
import { addGroupMember, createDepartment, createGroup, createUser, setUserDepartment, type Role } from '../src/governance/index.ts';
import { clientEvents } from '../src/conversations/index.ts';

type Who = 'none' | Role;
const WHO: Who[] = ['none', 'agent', 'supervisor', 'auditor', 'admin'];
type Expect = Record<Who, number>;
const all = (n: number): Expect => ({ none: n, agent: n, supervisor: n, auditor: n, admin: n });
const staff = (agent: number, supervisor: number, auditor: number, admin: number): Expect => ({ none: 401, agent, supervisor, auditor, admin });

/** expected HTTP status for Q, and for P where the route takes a conversation or customer */
const HTTP: Record<string, { q: Expect; p?: Expect }> = {
  'POST /api/v1/auth/login': { q: all(400) },
  'POST /api/v1/auth/logout': { q: all(200) },
  'GET /api/v1/auth/me': { q: staff(200, 200, 200, 200) },
  // authentication (docs/SECURITY.md): every member of staff manages their own second factor, sessions and password;
  // the auditor and admin of this matrix have enrolled already, so a second setup conflicts; ids here name no session
  'POST /api/v1/auth/login/2fa': { q: all(400) },
  'GET /api/v1/auth/2fa': { q: staff(200, 200, 200, 200) },
  'POST /api/v1/auth/2fa/setup': { q: staff(200, 200, 409, 409) },
  'POST /api/v1/auth/2fa/confirm': { q: staff(400, 400, 400, 400) },
  'POST /api/v1/auth/2fa/recovery-codes': { q: staff(400, 400, 400, 400) },
  'POST /api/v1/auth/2fa/disable': { q: staff(400, 400, 400, 400) },
  'GET /api/v1/auth/sessions': { q: staff(200, 200, 200, 200) },
  'DELETE /api/v1/auth/sessions/:id': { q: staff(404, 404, 404, 404) },
  'POST /api/v1/auth/password': { q: staff(400, 400, 400, 400) },
  'GET /api/v1/admin/settings/2fa': { q: staff(403, 403, 403, 200) },
  'PUT /api/v1/admin/settings/2fa': { q: staff(403, 403, 403, 400) },
  'DELETE /api/v1/admin/users/:id/sessions': { q: staff(403, 403, 403, 404) },
  'GET /api/v1/conversations': { q: staff(200, 200, 200, 200) },
  'GET /api/v1/conversations/:id': { q: staff(200, 200, 200, 404), p: staff(404, 404, 200, 404) },
  'GET /api/v1/conversations/:id/messages': { q: staff(200, 200, 200, 404), p: staff(404, 404, 200, 404) },
  // 显示原文 needs an unmask grant, which nobody here holds: readers are told so (403), others find nothing (404)
  'POST /api/v1/conversations/:id/unmask': { q: staff(403, 403, 403, 404), p: staff(404, 404, 403, 404) },
  'POST /api/v1/conversations/:id/read': { q: staff(200, 200, 200, 404), p: staff(404, 404, 200, 404) },
  'POST /api/v1/conversations/:id/resolve': { q: staff(200, 200, 403, 404), p: staff(404, 404, 403, 404) },
  'GET /api/v1/customers/:id': { q: staff(200, 200, 200, 404), p: staff(404, 404, 200, 404) },
  'GET /api/v1/search': { q: staff(200, 200, 200, 200) },
  // exports run in the caller's scope (an admin without a grant exports nothing); a job is visible only to its creator
  'POST /api/v1/exports': { q: staff(400, 400, 400, 400) },
  'GET /api/v1/exports': { q: staff(200, 200, 200, 200) },
  'GET /api/v1/exports/:id': { q: staff(404, 404, 404, 404) },
  'GET /api/v1/exports/:id/download': { q: staff(404, 404, 404, 404) },
  'GET /api/v1/audit': { q: staff(403, 403, 200, 200) },
  'GET /api/v1/org': { q: staff(200, 200, 200, 200) },
  'POST /api/v1/org/departments': { q: staff(403, 403, 403, 400) },
  'PATCH /api/v1/org/departments/:id': { q: staff(403, 403, 403, 400) },
  'DELETE /api/v1/org/departments/:id': { q: staff(403, 403, 403, 404) },
  'POST /api/v1/org/groups': { q: staff(403, 403, 403, 400) },
  'PATCH /api/v1/org/groups/:id': { q: staff(403, 403, 403, 400) },
  'DELETE /api/v1/org/groups/:id': { q: staff(403, 403, 403, 404) },
  'POST /api/v1/org/groups/:id/members': { q: staff(403, 403, 403, 404) },
  'DELETE /api/v1/org/groups/:id/members/:userId': { q: staff(403, 403, 403, 404) },
  'PUT /api/v1/org/users/:id/department': { q: staff(403, 403, 403, 404) },
  // access grants: any member of staff asks and lists their own; only approvers decide (here on a grant that does not exist)
  'POST /api/v1/grants': { q: staff(400, 400, 400, 400) },
  'GET /api/v1/grants': { q: staff(200, 200, 200, 200) },
  'POST /api/v1/grants/:id/approve': { q: staff(403, 403, 403, 404) },
  'POST /api/v1/grants/:id/deny': { q: staff(403, 403, 403, 400) },
  'POST /api/v1/grants/:id/revoke': { q: staff(404, 404, 404, 404) },
  // who approves besides admins: an admin setting (the empty body here is refused as invalid)
  'GET /api/v1/admin/settings/grant-approvers': { q: staff(403, 403, 403, 200) },
  'PUT /api/v1/admin/settings/grant-approvers': { q: staff(403, 403, 403, 400) },
};

/** expected ack of agent-namespace events on Q and P: 'ok' or the refusal code; none cannot connect at all */
type Ack = 'ok' | 'forbidden' | 'conversation_not_found';
const AGENT_EVENTS: Record<string, { q: Record<Exclude<Who, 'none'>, Ack>; p: Record<Exclude<Who, 'none'>, Ack> }> = {
  'message:send': { q: { agent: 'ok', supervisor: 'ok', auditor: 'forbidden', admin: 'conversation_not_found' }, p: { agent: 'conversation_not_found', supervisor: 'conversation_not_found', auditor: 'forbidden', admin: 'conversation_not_found' } },
  'conversation:sync': { q: { agent: 'ok', supervisor: 'ok', auditor: 'ok', admin: 'conversation_not_found' }, p: { agent: 'conversation_not_found', supervisor: 'conversation_not_found', auditor: 'ok', admin: 'conversation_not_found' } },
  typing: { q: { agent: 'ok', supervisor: 'ok', auditor: 'forbidden', admin: 'conversation_not_found' }, p: { agent: 'conversation_not_found', supervisor: 'conversation_not_found', auditor: 'forbidden', admin: 'conversation_not_found' } },
  read: { q: { agent: 'ok', supervisor: 'ok', auditor: 'ok', admin: 'conversation_not_found' }, p: { agent: 'conversation_not_found', supervisor: 'conversation_not_found', auditor: 'ok', admin: 'conversation_not_found' } },
};
/** customer-namespace events: a visitor may use only their own conversations (tested in gateway.test.ts) */
const CUSTOMER_EVENTS = ['message:send', 'conversation:sync', 'typing', 'read'];

describe('authorisation matrix', () => {
  let t: TestServer;
  const cookies: Partial<Record<Who, string>> = {};
  let q: { conversationId: string; customerId: string };
  let p: { conversationId: string; customerId: string };

  before(async () => {
    t = await startTestServer('sqlite');
    const db = t.server.store.db;
    const sales = await createDepartment(db, '销售部');
    const service = await createDepartment(db, '客服部');
    const presales = await createGroup(db, '售前', sales.id);
    for (const role of ['agent', 'supervisor', 'auditor', 'admin'] as const) cookies[role] = await t.login(`m-${role}`, role);
    const users = await db.selectFrom('app_user').select(['id', 'login']).execute();
    const id = (login: string) => users.find((u) => u.login === login)!.id;
    await addGroupMember(db, presales.id, id('m-agent'));
    await setUserDepartment(db, id('m-supervisor'), sales.id);
    const outsider = await createUser(db, { login: 'm-outsider', password: 'long-enough-pw', role: 'agent', departmentId: service.id });

    const open = async (text: string) => {
      const c = t.customer();
      const session = await nextEvent(c, 'session');
      const ack = await call(c, 'message:send', { clientId: `open-${text}`, text });
      c.disconnect();
      void session;
      const row = await db.selectFrom('conversation').select('customer_id').where('id', '=', ack.conversationId).executeTakeFirstOrThrow();
      return { conversationId: ack.conversationId as string, customerId: row.customer_id };
    };
    q = await open('排队中的会话');
    p = await open('别的部门的会话');
    await db.updateTable('conversation').set({ assignee_id: outsider.id, state: 'assigned' }).where('id', '=', p.conversationId).execute();
  });
  after(async () => t.close());

  test('every HTTP route has an entry', () => {
    const apiRoutes = t.server.routes.filter((r) => r.url.startsWith('/api/')).map((r) => `${r.method} ${r.url}`);
    const missing = apiRoutes.filter((r) => !(r in HTTP));
    assert.deepEqual(missing, [], 'routes without an authorisation entry');
    const stale = Object.keys(HTTP).filter((k) => !apiRoutes.includes(k));
    assert.deepEqual(stale, [], 'entries for routes that no longer exist');
  });

  test('HTTP routes answer each role as the matrix says', async () => {
    const failures: string[] = [];
    for (const [key, expect] of Object.entries(HTTP)) {
      const [method, path] = key.split(' ') as [string, string];
      for (const [target, table] of [['Q', expect.q], ['P', expect.p]] as const) {
        if (!table) continue;
        const ref = target === 'Q' ? q : p;
        const url = path.replace(':id', path.startsWith('/api/v1/customers') ? ref.customerId : ref.conversationId) + (path === '/api/v1/search' ? '?q=会话' : '');
        for (const who of WHO) {
          if (key === 'POST /api/v1/auth/logout' || key.endsWith('/resolve')) continue;
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (who !== 'none') Object.assign(headers, { cookie: cookies[who]!, ...CSRF });
          const body = method !== 'GET' ? JSON.stringify(key.endsWith('/read') ? { seq: 1 } : key.endsWith('/members') ? { userId: 'usr_none' } : key.endsWith('/department') ? { departmentId: null } : {}) : undefined;
          const res = await fetch(t.url + url, { method, headers, body });
          if (res.status !== table[who]) failures.push(`${key} [${target}] as ${who}: expected ${table[who]}, got ${res.status}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('what each role finds: inbox and search stay inside the scope', async () => {
    const inbox = async (who: Who) => ((await (await fetch(`${t.url}/api/v1/conversations`, { headers: { cookie: cookies[who]! } })).json()).conversations as Array<{ id: string }>).map((c) => c.id);
    const search = async (who: Who) => ((await (await fetch(`${t.url}/api/v1/search?q=${encodeURIComponent('会话')}`, { headers: { cookie: cookies[who]! } })).json()).hits as Array<{ conversationId: string }>).map((h) => h.conversationId);
    for (const [who, expected] of [['agent', [q.conversationId]], ['supervisor', [q.conversationId]], ['auditor', [p.conversationId, q.conversationId]], ['admin', []]] as const) {
      assert.deepEqual((await inbox(who)).sort(), [...expected].sort(), `inbox of ${who}`);
      assert.deepEqual([...new Set(await search(who))].sort(), [...expected].sort(), `search of ${who}`);
    }
  });

  test('writes: resolve is refused to auditors and to anyone outside the scope', async () => {
    const resolve = (who: Who, id: string) => fetch(`${t.url}/api/v1/conversations/${id}/resolve`, { method: 'POST', headers: who === 'none' ? {} : { cookie: cookies[who]!, ...CSRF } });
    for (const who of WHO) {
      const expected = HTTP['POST /api/v1/conversations/:id/resolve']!;
      assert.equal((await resolve(who, p.conversationId)).status, expected.p![who], `resolve P as ${who}`);
      if (who !== 'agent' && who !== 'supervisor') assert.equal((await resolve(who, q.conversationId)).status, expected.q[who], `resolve Q as ${who}`);
    }
    assert.equal((await resolve('supervisor', q.conversationId)).status, 200);
    const logout = await fetch(`${t.url}/api/v1/auth/logout`, { method: 'POST' });
    assert.equal(logout.status, HTTP['POST /api/v1/auth/logout']!.q.none);
  });

  test('socket events answer each role as the matrix says; no session cannot connect', async () => {
    const none = t.agent('kefu_session=nothing');
    await assert.rejects(connected(none), /unauthorized/);
    const failures: string[] = [];
    for (const who of ['agent', 'supervisor', 'auditor', 'admin'] as const) {
      const s = t.agent(cookies[who]!);
      await connected(s);
      for (const [event, table] of Object.entries(AGENT_EVENTS)) {
        for (const [target, ref] of [['q', q], ['p', p]] as const) {
          const payload =
            event === 'message:send' ? { conversationId: ref.conversationId, clientId: `${who}-${target}`, text: '您好' }
            : event === 'conversation:sync' ? { conversationId: ref.conversationId, afterSeq: 0 }
            : event === 'typing' ? { conversationId: ref.conversationId, typing: true }
            : { conversationId: ref.conversationId, seq: 1 };
          const ack = await call(s, event, payload);
          const got: string = ack.ok ? 'ok' : ack.code;
          if (got !== table[target][who]) failures.push(`${event} [${target}] as ${who}: expected ${table[target][who]}, got ${got}`);
        }
      }
      s.disconnect();
    }
    assert.deepEqual(failures, []);
  });

  test('every socket event has an entry', () => {
    // the sets fill as sockets connect, which the tests above did for both namespaces
    assert.deepEqual([...clientEvents.agent].sort(), Object.keys(AGENT_EVENTS).sort());
    assert.deepEqual([...clientEvents.customer].sort(), [...CUSTOMER_EVENTS].sort());
  });
});
