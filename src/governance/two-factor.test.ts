import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { testDialects } from '../../test/support/databases.ts';
import { connected, startTestServer, type TestServer } from '../../test/support/server.ts';
import { api, enrol, signIn, signInWithCode, totpCode, wrongCode } from '../../test/support/auth.ts';
import { createUser } from './users.ts';
import { listAudit } from './audit.ts';

const root = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'lantern-orchid-42';

for (const dialect of testDialects()) {
  describe(`two-factor sign-in (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => t.close());

    const agentWithSession = async (login: string) => {
      await createUser(t.server.store.db, { login, password: PASSWORD, role: 'agent' });
      const r = await signIn(t, login, PASSWORD);
      assert.equal(r.status, 200);
      assert.equal(r.body.twoFactorEnrolmentRequired, undefined, 'agents do not need 2FA by default');
      return r.cookie!;
    };

    test('enrolment: a secret with its QR code and otpauth URI; a wrong code is refused; the right one gives ten recovery codes, stored hashed', async () => {
      const cookie = await agentWithSession('zhou.min');
      const setup = await api(t, 'POST', '/api/v1/auth/2fa/setup', { cookie, body: {} });
      assert.equal(setup.status, 200);
      assert.match(setup.body.secret, /^[A-Z2-7]{32}$/);
      assert.match(setup.body.otpauthUri, /^otpauth:\/\/totp\/kefu:zhou\.min\?/);
      assert.ok(setup.body.otpauthUri.includes(`secret=${setup.body.secret}`));
      assert.match(setup.body.qrDataUrl, /^data:image\/png;base64,/);

      const wrong = await api(t, 'POST', '/api/v1/auth/2fa/confirm', { cookie, body: { code: wrongCode(setup.body.secret) } });
      assert.equal(wrong.status, 400);
      assert.equal(wrong.body.error.code, 'bad_code');
      assert.equal((await api(t, 'GET', '/api/v1/auth/2fa', { cookie })).body.enabled, false);

      const ok = await api(t, 'POST', '/api/v1/auth/2fa/confirm', { cookie, body: { code: totpCode(setup.body.secret) } });
      assert.equal(ok.status, 200);
      const codes: string[] = ok.body.recoveryCodes;
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      for (const c of codes) assert.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/);

      const status = await api(t, 'GET', '/api/v1/auth/2fa', { cookie });
      assert.deepEqual({ enabled: status.body.enabled, left: status.body.recoveryCodesLeft, required: status.body.required }, { enabled: true, left: 10, required: false });

      const db = t.server.store.db;
      const user = await db.selectFrom('app_user').select('id').where('login', '=', 'zhou.min').executeTakeFirstOrThrow();
      const stored = await db.selectFrom('recovery_code').select('code_hash').where('user_id', '=', user.id).execute();
      assert.equal(stored.length, 10);
      for (const c of codes) assert.ok(!stored.some((s) => s.code_hash.includes(c.replace('-', ''))), 'recovery codes are not stored as they are');
      const events = await listAudit(db, { action: 'auth.2fa_enrol', actor: 'zhou.min' });
      assert.equal(events.length, 1);
      assert.equal((await api(t, 'POST', '/api/v1/auth/2fa/setup', { cookie, body: {} })).status, 409, 'a second setup needs 2FA off first');
    });

    test('sign-in with 2FA: the password gives a challenge and no session; a wrong code is refused; a code is accepted only once', async () => {
      const cookie = await agentWithSession('wu.lei');
      const { secret } = await enrol(t, cookie);

      const first = await signIn(t, 'wu.lei', PASSWORD);
      assert.equal(first.status, 200);
      assert.equal(first.body.twoFactorRequired, true);
      assert.equal(typeof first.body.challenge, 'string');
      assert.equal(first.body.user, undefined);
      assert.equal(first.cookie, undefined, 'no session cookie before the second factor');

      const wrong = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, code: wrongCode(secret) } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error.code, 'bad_code');
      assert.equal(wrong.cookie, undefined);

      // enrolment used the current step; the next step's code is within the ±1 window and not yet used
      const code = totpCode(secret, Date.now(), 1);
      const second = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, code } });
      assert.equal(second.status, 200);
      assert.equal(second.body.user.login, 'wu.lei');
      assert.ok(second.cookie);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: second.cookie })).status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/conversations', { cookie: second.cookie })).status, 200);

      const again = await signIn(t, 'wu.lei', PASSWORD);
      const replay = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: again.body.challenge, code } });
      assert.equal(replay.status, 401, 'the same code twice');
      const reused = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, code: totpCode(secret, Date.now(), -1) } });
      assert.equal(reused.status, 401, 'a finished challenge does not sign in again');
      assert.equal(reused.body.error.code, 'challenge_expired');

      const logins = await listAudit(t.server.store.db, { action: 'login', actor: 'wu.lei' });
      assert.deepEqual(logins[0]!.detail, { secondFactor: 'totp' });
    });

    test('a recovery code signs in once, in any case and spacing', async () => {
      const cookie = await agentWithSession('he.jing');
      const { recoveryCodes } = await enrol(t, cookie);
      const code = recoveryCodes[3]!;
      const first = await signIn(t, 'he.jing', PASSWORD);
      const ok = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, recoveryCode: ` ${code.toUpperCase().replace('-', ' ')} ` } });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.recoveryCodesLeft, 9);
      const second = await signIn(t, 'he.jing', PASSWORD);
      const used = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: second.body.challenge, recoveryCode: code } });
      assert.equal(used.status, 401);
      assert.equal(used.body.error.code, 'bad_code');
      const other = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: second.body.challenge, recoveryCode: recoveryCodes[4]! } });
      assert.equal(other.status, 200);
      const logins = await listAudit(t.server.store.db, { action: 'login', actor: 'he.jing' });
      assert.deepEqual(logins[0]!.detail, { secondFactor: 'recovery_code' });
    });

    test('turning 2FA off needs a current code and is audited; new recovery codes replace the old ones', async () => {
      const cookie = await agentWithSession('lin.fang');
      const { secret, recoveryCodes } = await enrol(t, cookie);
      const regenerated = await api(t, 'POST', '/api/v1/auth/2fa/recovery-codes', { cookie, body: { code: totpCode(secret, Date.now(), 1) } });
      assert.equal(regenerated.status, 200);
      assert.equal(regenerated.body.recoveryCodes.length, 10);
      assert.ok(!regenerated.body.recoveryCodes.includes(recoveryCodes[0]));

      const wrong = await api(t, 'POST', '/api/v1/auth/2fa/disable', { cookie, body: { code: wrongCode(secret) } });
      assert.equal(wrong.status, 400);
      const off = await api(t, 'POST', '/api/v1/auth/2fa/disable', { cookie, body: { code: totpCode(secret, Date.now(), -1) } });
      assert.equal(off.status, 400, 'a step older than the last accepted one is refused');
      // the last accepted step is now+1, so no code is newer until the clock moves on: use the server's view of time
      const db = t.server.store.db;
      const user = await db.selectFrom('app_user').select('id').where('login', '=', 'lin.fang').executeTakeFirstOrThrow();
      await db.updateTable('user_totp').set({ last_step: 0 }).where('user_id', '=', user.id).execute();
      const done = await api(t, 'POST', '/api/v1/auth/2fa/disable', { cookie, body: { code: totpCode(secret) } });
      assert.equal(done.status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/auth/2fa', { cookie })).body.enabled, false);
      assert.equal((await signIn(t, 'lin.fang', PASSWORD)).body.user.login, 'lin.fang', 'password alone again');
      const actions = (await listAudit(db, { actor: 'lin.fang' })).map((e) => e.action);
      assert.ok(actions.includes('auth.2fa_disable'));
      assert.ok(actions.includes('auth.2fa_recovery_codes'));
    });
  });
}

describe('two-factor is mandatory for auditors and admins', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('sqlite');
  });
  after(async () => t.close());

  test('their first session reaches only the enrolment routes; enrolling makes it a full session', async () => {
    await createUser(t.server.store.db, { login: 'shen.audit', password: PASSWORD, role: 'auditor' });
    const first = await signIn(t, 'shen.audit', PASSWORD);
    assert.equal(first.status, 200);
    assert.equal(first.body.twoFactorEnrolmentRequired, true);
    const cookie = first.cookie!;

    const allowed = new Set(['GET /api/v1/auth/me', 'POST /api/v1/auth/logout', 'GET /api/v1/auth/2fa', 'POST /api/v1/auth/2fa/setup', 'POST /api/v1/auth/2fa/confirm', 'POST /api/v1/auth/login', 'POST /api/v1/auth/login/2fa']);
    const refused: string[] = [];
    for (const r of t.server.routes.filter((x) => x.url.startsWith('/api/'))) {
      const key = `${r.method} ${r.url}`;
      if (allowed.has(key)) continue;
      const res = await api(t, r.method, r.url.replace(/:(\w+)/g, 'x_$1'), { cookie, body: r.method === 'GET' ? undefined : {} });
      if (res.status !== 403 || res.body?.error?.code !== 'two_factor_enrolment_required') refused.push(`${key}: ${res.status} ${res.body?.error?.code}`);
    }
    assert.deepEqual(refused, [], 'every other route refuses an enrolment-only session');
    const me = await api(t, 'GET', '/api/v1/auth/me', { cookie });
    assert.equal(me.status, 200);
    assert.equal(me.body.twoFactorEnrolmentRequired, true);
    const socket = connect(`${t.url}/agent`, { extraHeaders: { cookie }, transports: ['websocket'], forceNew: true });
    await assert.rejects(connected(socket), /unauthorized/);
    socket.disconnect();

    await enrol(t, cookie);
    assert.equal((await api(t, 'GET', '/api/v1/conversations', { cookie })).status, 200);
    assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie })).body.twoFactorEnrolmentRequired, undefined);
    const off = await api(t, 'POST', '/api/v1/auth/2fa/disable', { cookie, body: { code: '123456' } });
    assert.equal(off.status, 403);
    assert.equal(off.body.error.code, 'two_factor_required');
  });

  test('an admin requires 2FA of more roles (audited); the list always keeps auditor and admin; the CLI does the same', async () => {
    const adminCookie = await t.login('gao.admin', 'admin');
    const agentCookie = await t.login('tian.agent', 'agent');
    assert.equal((await api(t, 'GET', '/api/v1/admin/settings/2fa', { cookie: agentCookie })).status, 403);
    assert.deepEqual((await api(t, 'GET', '/api/v1/admin/settings/2fa', { cookie: adminCookie })).body.roles, ['auditor', 'admin']);
    const refused = await api(t, 'PUT', '/api/v1/admin/settings/2fa', { cookie: adminCookie, body: { roles: ['agent'] } });
    assert.equal(refused.status, 400);
    assert.match(refused.body.error.message, /auditor and admin always/);
    const changed = await api(t, 'PUT', '/api/v1/admin/settings/2fa', { cookie: adminCookie, body: { roles: ['admin', 'agent', 'auditor'] } });
    assert.equal(changed.status, 200);
    assert.deepEqual(changed.body.roles, ['agent', 'auditor', 'admin']);
    const event = (await listAudit(t.server.store.db, { action: 'config.change', actor: 'gao.admin' }))[0]!;
    assert.deepEqual(event.target, { type: 'setting', id: 'twoFactorRequiredRoles' });
    assert.deepEqual(event.detail, { from: ['auditor', 'admin'], to: ['agent', 'auditor', 'admin'] });

    // the agent's session from before the change is now held to enrolment as well
    const held = await api(t, 'GET', '/api/v1/conversations', { cookie: agentCookie });
    assert.equal(held.status, 403);
    assert.equal(held.body.error.code, 'two_factor_enrolment_required');

    const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
    const kefu = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env, encoding: 'utf8' });
    const set = kefu(['settings', 'set', '2fa-roles', 'supervisor,auditor,admin']);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(kefu(['settings', 'get', '2fa-roles']).stdout.trim(), 'supervisor,auditor,admin');
    const bad = kefu(['settings', 'set', '2fa-roles', 'agent']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /always need two-factor/);
    assert.equal((await api(t, 'GET', '/api/v1/conversations', { cookie: agentCookie })).status, 200, 'agents are free again');
    const cli = (await listAudit(t.server.store.db, { action: 'config.change', actor: 'local-operator' }))[0]!;
    assert.deepEqual(cli.detail, { from: ['agent', 'auditor', 'admin'], to: ['supervisor', 'auditor', 'admin'] });
  });

  test('kefu user 2fa-reset removes the second factor and signs the user out; they enrol again at the next sign-in', async () => {
    const cookie = await t.login('qin.admin', 'admin');
    const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
    const r = spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'user', '2fa-reset', '--login', 'qin.admin'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /two-factor removed, 1 session\(s\) ended/);
    assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie })).status, 401);
    const again = await signIn(t, 'qin.admin', 'pw-qin.admin-0123456789');
    assert.equal(again.body.twoFactorEnrolmentRequired, true);
    assert.equal((await listAudit(t.server.store.db, { action: 'auth.2fa_reset' })).length, 1);
    const unknown = spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'user', '2fa-reset', '--login', 'nobody'], { env, encoding: 'utf8' });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no staff login "nobody"/);
  });

  test('an enrolled admin signs in with password and code and gets a full session', async () => {
    await createUser(t.server.store.db, { login: 'ma.admin', password: PASSWORD, role: 'admin' });
    const first = await signIn(t, 'ma.admin', PASSWORD);
    const { secret } = await enrol(t, first.cookie!);
    const cookie = await signInWithCode(t, 'ma.admin', PASSWORD, secret);
    assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie })).body.twoFactorEnabled, true);
  });
});
