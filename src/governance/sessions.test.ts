import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { testDialects } from '../../test/support/databases.ts';
import { CSRF, startTestServer, type TestServer } from '../../test/support/server.ts';
import { api, enrol, signIn } from '../../test/support/auth.ts';
import { createUser, passwordProblem } from './users.ts';
import { listAudit } from './audit.ts';

const root = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'meadow-copper-58';
const MINUTE = 60_000;

for (const dialect of testDialects()) {
  describe(`sessions: expiry, revocation, password change (${dialect})`, () => {
    let t: TestServer;
    let now = Date.now();
    before(async () => {
      t = await startTestServer(dialect, { authPolicy: { now: () => now } });
    });
    after(async () => t.close());

    const session = async (login: string, ua = 'test-browser') => {
      const r = await signIn(t, login, PASSWORD, { 'user-agent': ua });
      assert.equal(r.status, 200);
      return r.cookie!;
    };

    test('a session unused for 30 minutes ends; use keeps it alive, up to 12 hours after sign-in', async () => {
      await createUser(t.server.store.db, { login: 'idle.agent', password: PASSWORD, role: 'agent' });
      const busy = await session('idle.agent');
      const idle = await session('idle.agent');
      for (let i = 0; i < 4; i++) {
        now += 20 * MINUTE;
        assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: busy })).status, 200, `busy session after ${(i + 1) * 20} minutes`);
      }
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: idle })).status, 401, 'idle for 80 minutes');
      for (let i = 0; i < 33; i++) {
        now += 20 * MINUTE;
        await api(t, 'GET', '/api/v1/auth/me', { cookie: busy });
      }
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: busy })).status, 401, 'past the 12-hour lifetime');
    });

    test('a user lists their live sessions and ends one; its cookie is refused from then on (audited)', async () => {
      await createUser(t.server.store.db, { login: 'list.agent', password: PASSWORD, role: 'agent' });
      const laptop = await session('list.agent', 'laptop');
      const phone = await session('list.agent', 'phone');
      const listed = await api(t, 'GET', '/api/v1/auth/sessions', { cookie: laptop });
      assert.equal(listed.status, 200);
      const sessions: Array<{ id: string; current: boolean; userAgent: string; ip: string }> = listed.body.sessions;
      assert.equal(sessions.length, 2);
      assert.deepEqual(sessions.map((s) => [s.userAgent, s.current]).sort(), [['laptop', true], ['phone', false]]);
      assert.equal(sessions[0]!.ip, '127.0.0.1');
      const phoneId = sessions.find((s) => s.userAgent === 'phone')!.id;
      assert.match(phoneId, /^ses_/);

      await createUser(t.server.store.db, { login: 'other.agent', password: PASSWORD, role: 'agent' });
      const other = await session('other.agent');
      assert.equal((await api(t, 'DELETE', `/api/v1/auth/sessions/${phoneId}`, { cookie: other })).status, 404, "someone else's session");

      assert.equal((await api(t, 'DELETE', `/api/v1/auth/sessions/${phoneId}`, { cookie: laptop })).status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: phone })).status, 401);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: laptop })).status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/auth/sessions', { cookie: laptop })).body.sessions.length, 1);
      const event = (await listAudit(t.server.store.db, { action: 'auth.session_revoke' }))[0]!;
      assert.deepEqual(event.target, { type: 'session', id: phoneId });
      assert.equal(event.actor.login, 'list.agent');
    });

    test('an admin ends every session of a user, over HTTP and with kefu user revoke-sessions', async () => {
      await createUser(t.server.store.db, { login: 'many.agent', password: PASSWORD, role: 'agent' });
      const a = await session('many.agent');
      const b = await session('many.agent');
      await createUser(t.server.store.db, { login: 'rev.admin', password: PASSWORD, role: 'admin' });
      const adminCookie = await session('rev.admin');
      await enrol(t, adminCookie, now);
      const user = await t.server.store.db.selectFrom('app_user').select('id').where('login', '=', 'many.agent').executeTakeFirstOrThrow();
      assert.equal((await api(t, 'DELETE', `/api/v1/admin/users/${user.id}/sessions`, { cookie: a })).status, 403, 'agents cannot');
      const r = await api(t, 'DELETE', `/api/v1/admin/users/${user.id}/sessions`, { cookie: adminCookie });
      assert.equal(r.status, 200);
      assert.equal(r.body.revoked, 2);
      for (const c of [a, b]) assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: c })).status, 401);
      const event = (await listAudit(t.server.store.db, { action: 'auth.session_revoke', actor: 'rev.admin' }))[0]!;
      assert.deepEqual(event.detail, { login: 'many.agent', revokedSessions: 2 });

      const c = await session('many.agent');
      const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
      const cli = spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'user', 'revoke-sessions', '--login', 'many.agent'], { env, encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /many\.agent: 1 session\(s\) ended/);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: c })).status, 401);
    });

    test('changing the password checks the current one and the rules, keeps this session and ends the others', async () => {
      await createUser(t.server.store.db, { login: 'pw.agent', password: PASSWORD, role: 'agent' });
      const here = await session('pw.agent');
      const elsewhere = await session('pw.agent');
      const change = (current: string, next: string) => api(t, 'POST', '/api/v1/auth/password', { cookie: here, body: { current, next } });

      const wrong = await change('not-my-password', 'brand-new-secret-9');
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error.code, 'wrong_password');
      for (const [next, why] of [
        ['short-1', /at least 10/],
        ['password123', /most common/],
        ['pw.agent2024', /login/],
        ['PW.AGENT', /at least 10|login/],
        ['zzzzzzzzzzzz', /repeated/],
        [PASSWORD, /differ/],
      ] as const) {
        const r = await change(PASSWORD, next);
        assert.equal(r.status, 400, next);
        assert.equal(r.body.error.code, 'weak_password');
        assert.match(r.body.error.message, why, next);
      }
      const ok = await change(PASSWORD, 'brand-new-secret-9');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.revokedSessions, 1);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: here })).status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: elsewhere })).status, 401);
      assert.equal((await signIn(t, 'pw.agent', PASSWORD)).status, 401);
      assert.equal((await signIn(t, 'pw.agent', 'brand-new-secret-9')).status, 200);
      const event = (await listAudit(t.server.store.db, { action: 'auth.password_change' }))[0]!;
      assert.equal(event.actor.login, 'pw.agent');
      assert.deepEqual(event.detail, { revokedSessions: 1 });
    });

    test('CSRF: a cookie-authenticated write without the x-kefu-csrf header is refused; reads and sign-in need none', async () => {
      await createUser(t.server.store.db, { login: 'csrf.agent', password: PASSWORD, role: 'agent' });
      const cookie = await session('csrf.agent');
      const bare = (method: string, url: string, body?: unknown) =>
        fetch(`${t.url}${url}`, { method, headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      for (const [method, url, body] of [
        ['POST', '/api/v1/auth/logout', undefined],
        ['POST', '/api/v1/auth/password', { current: PASSWORD, next: 'another-fine-pass-1' }],
        ['POST', '/api/v1/auth/2fa/setup', {}],
        ['POST', '/api/v1/conversations/conv_x/resolve', undefined],
        ['DELETE', '/api/v1/auth/sessions/ses_x', undefined],
      ] as const) {
        const res = await bare(method, url, body);
        assert.equal(res.status, 403, `${method} ${url}`);
        assert.equal((await res.json()).error.code, 'csrf_header_missing');
      }
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie })).status, 200, 'the session survived the refused logout');
      assert.equal((await bare('GET', '/api/v1/auth/sessions')).status, 200);
      const login = await fetch(`${t.url}/api/v1/auth/login`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ login: 'csrf.agent', password: PASSWORD }) });
      assert.equal(login.status, 200);
      // a form post from another site cannot send JSON; text/plain is not read as a login
      const form = await fetch(`${t.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ login: 'csrf.agent', password: PASSWORD }) });
      assert.equal(form.status, 400);
      const withHeader = await fetch(`${t.url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, ...CSRF } });
      assert.equal(withHeader.status, 200);
    });
  });
}

test('password rules: length, common passwords, one repeated character, the login', () => {
  assert.equal(passwordProblem('correct-horse-1', 'xiaoli'), null);
  assert.equal(passwordProblem('pw-xiaoli-0123456789', 'xiaoli'), null, 'the login inside a long password is fine');
  assert.match(passwordProblem('short', 'x1')!, /at least 10/);
  assert.match(passwordProblem('x'.repeat(300), 'x1')!, /at most 256/);
  assert.match(passwordProblem('Password123', 'x1')!, /common/);
  assert.match(passwordProblem('woaini1314', 'x1')!, /common/);
  assert.match(passwordProblem('1111111111111', 'x1')!, /repeated/);
  assert.match(passwordProblem('xiaoli2024!', 'xiaoli')!, /login/);
  assert.match(passwordProblem('XiaoLiXiaoLi', 'xiaoli')!, /login/);
});
