import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CSRF, startTestServer, type TestServer } from '../../test/support/server.ts';
import { createUser } from './users.ts';

describe('login and sessions', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
    await createUser(t.server.store.db, { login: 'xiaoli', password: 'correct-horse-1', role: 'agent', displayName: '小李' });
  });
  after(async () => t.close());

  const login = (body: unknown) => fetch(`${t.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('a correct login sets an httpOnly SameSite=Lax session cookie', async () => {
    const res = await login({ login: 'xiaoli', password: 'correct-horse-1' });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.user.login, 'xiaoli');
    assert.equal(body.user.displayName, '小李');
    assert.equal('password_hash' in body.user, false);
    const cookie = res.headers.get('set-cookie')!;
    assert.match(cookie, /^kefu_session=/);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    const me = await fetch(`${t.url}/api/v1/auth/me`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal((await me.json()).user.login, 'xiaoli');
  });

  test('a wrong password or unknown login is 401 with a message', async () => {
    for (const body of [{ login: 'xiaoli', password: 'wrong-password' }, { login: 'nobody', password: 'whatever-123' }]) {
      const res = await login(body);
      assert.equal(res.status, 401);
      const e = await res.json();
      assert.equal(e.error.code, 'bad_credentials');
      assert.ok(e.error.message.length > 0);
    }
  });

  test('malformed login bodies are 400, not 500', async () => {
    for (const body of [{}, { login: 1, password: 'x' }, { login: 'a' }, 'just a string', null]) {
      const res = await login(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok((await res.json()).error.message);
    }
    const raw = await fetch(`${t.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    assert.equal(raw.status, 400);
  });

  test('logout revokes the session', async () => {
    const res = await login({ login: 'xiaoli', password: 'correct-horse-1' });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    assert.equal((await fetch(`${t.url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, ...CSRF } })).status, 200);
    assert.equal((await fetch(`${t.url}/api/v1/auth/me`, { headers: { cookie } })).status, 401);
    assert.equal((await fetch(`${t.url}/api/v1/conversations`, { headers: { cookie } })).status, 401);
  });

  test('conversation routes need a session and validate their input', async () => {
    assert.equal((await fetch(`${t.url}/api/v1/conversations`)).status, 401);
    const cookie = await t.login('checker');
    assert.equal((await fetch(`${t.url}/api/v1/conversations/conv_nope`, { headers: { cookie } })).status, 404);
    assert.equal((await fetch(`${t.url}/api/v1/conversations?limit=abc`, { headers: { cookie } })).status, 400);
    assert.equal((await fetch(`${t.url}/api/v1/nothing-here`, { headers: { cookie } })).status, 404);
  });

  test('health and readiness', async () => {
    assert.deepEqual(await (await fetch(`${t.url}/healthz`)).json(), { ok: true });
    assert.equal((await (await fetch(`${t.url}/readyz`)).json()).database, 'sqlite');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /kefu_messages_stored_total/);
  });
});

describe('users', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
  });
  after(async () => t.close());

  test('passwords are stored as argon2id hashes', async () => {
    await createUser(t.server.store.db, { login: 'hashcheck', password: 'long-enough-pw', role: 'supervisor' });
    const row = await t.server.store.db.selectFrom('app_user').select('password_hash').where('login', '=', 'hashcheck').executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^\$argon2id\$/);
  });

  test('short passwords, bad logins and duplicate logins are refused', async () => {
    await assert.rejects(createUser(t.server.store.db, { login: 'shorty', password: 'short', role: 'agent' }), /at least 10/);
    await assert.rejects(createUser(t.server.store.db, { login: 'bad login!', password: 'long-enough-pw', role: 'agent' }), /login may use/);
    await createUser(t.server.store.db, { login: 'twice', password: 'long-enough-pw', role: 'agent' });
    await assert.rejects(createUser(t.server.store.db, { login: 'twice', password: 'long-enough-pw', role: 'agent' }), /already exists/);
  });
});
