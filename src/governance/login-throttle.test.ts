import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { testDialects } from '../../test/support/databases.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { api, enrol, signIn, wrongCode } from '../../test/support/auth.ts';
import { createUser } from './users.ts';
import { listAudit } from './audit.ts';

const root = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'harbour-kite-7731';
const MINUTE = 60_000;

for (const dialect of testDialects()) {
  describe(`login lock-out (${dialect})`, () => {
    let t: TestServer;
    // the server's clock, moved by the tests
    let now = Date.now();
    before(async () => {
      t = await startTestServer(dialect, { authPolicy: { now: () => now, perIp: { maxFailures: 8, windowMs: 15 * MINUTE, lockMs: 15 * MINUTE } } });
    });
    after(async () => t.close());
    // every test signs in from an address of its own, so the address limit of one does not lock another
    const from = (ip: string) => ({ 'x-forwarded-for': ip });

    test('five wrong passwords lock the login for 15 minutes: 429 with Retry-After even for the right password, audited once', async () => {
      await createUser(t.server.store.db, { login: 'luo.agent', password: PASSWORD, role: 'agent' });
      for (let i = 1; i <= 4; i++) assert.equal((await signIn(t, 'luo.agent', `wrong-password-${i}`, from('10.0.0.1'))).status, 401);
      const fifth = await signIn(t, 'luo.agent', 'wrong-password-5', from('10.0.0.1'));
      assert.equal(fifth.status, 429);
      assert.equal(fifth.body.error.code, 'too_many_attempts');
      assert.match(fifth.body.error.message, /locked for 15 more minutes/);
      assert.equal(fifth.headers.get('retry-after'), String(15 * 60));

      now += 5 * MINUTE;
      const right = await signIn(t, 'luo.agent', PASSWORD, from('10.0.0.2'));
      assert.equal(right.status, 429, 'the right password does not get through a lock, from any address');
      assert.equal(right.headers.get('retry-after'), String(10 * 60));
      assert.equal(right.cookie, undefined);

      const lockouts = await listAudit(t.server.store.db, { action: 'auth.lockout' });
      assert.equal(lockouts.length, 1);
      assert.deepEqual(lockouts[0]!.target, { type: 'login', id: 'luo.agent' });
      assert.equal((lockouts[0]!.detail as { failures: number }).failures, 5);
      assert.equal((await listAudit(t.server.store.db, { action: 'login_failed', actor: 'luo.agent' })).length, 5);

      now += 10 * MINUTE + 1000;
      const after = await signIn(t, 'luo.agent', PASSWORD, from('10.0.0.2'));
      assert.equal(after.status, 200, 'the lock runs out');
    });

    test('failures older than the window do not add up; a success starts the count again', async () => {
      await createUser(t.server.store.db, { login: 'xu.agent', password: PASSWORD, role: 'agent' });
      for (let i = 0; i < 4; i++) assert.equal((await signIn(t, 'xu.agent', 'not-it-at-all', from('10.0.1.1'))).status, 401);
      now += 16 * MINUTE;
      for (let i = 0; i < 4; i++) assert.equal((await signIn(t, 'xu.agent', 'not-it-at-all', from('10.0.1.1'))).status, 401);
      assert.equal((await signIn(t, 'xu.agent', PASSWORD, from('10.0.1.1'))).status, 200);
      for (let i = 0; i < 4; i++) assert.equal((await signIn(t, 'xu.agent', 'not-it-at-all', from('10.0.1.2'))).status, 401);
    });

    test('an unknown login is locked like a real one, so a lock-out does not tell which logins exist', async () => {
      for (let i = 0; i < 4; i++) assert.equal((await signIn(t, 'ghost', 'whatever-it-is', from('10.0.2.1'))).status, 401);
      assert.equal((await signIn(t, 'ghost', 'whatever-it-is', from('10.0.2.1'))).status, 429);
    });

    test('many failures from one address lock the address, whatever the logins; other addresses still sign in', async () => {
      await createUser(t.server.store.db, { login: 'yan.agent', password: PASSWORD, role: 'agent' });
      for (let i = 1; i <= 7; i++) assert.equal((await signIn(t, `guess-${i}`, 'password-guess', from('10.0.3.1'))).status, 401);
      assert.equal((await signIn(t, 'guess-8', 'password-guess', from('10.0.3.1'))).status, 429);
      assert.equal((await signIn(t, 'yan.agent', PASSWORD, from('10.0.3.1'))).status, 429);
      assert.equal((await signIn(t, 'yan.agent', PASSWORD, from('10.0.3.2'))).status, 200);
      const lockout = (await listAudit(t.server.store.db, { action: 'auth.lockout' }))[0]!;
      assert.deepEqual(lockout.target, { type: 'ip', id: '10.0.3.1' });
    });

    test('wrong codes at the second step count as failed sign-ins and lock the login too', async () => {
      await createUser(t.server.store.db, { login: 'fan.agent', password: PASSWORD, role: 'agent' });
      const session = await signIn(t, 'fan.agent', PASSWORD, from('10.0.4.1'));
      const { secret } = await enrol(t, session.cookie!, now);
      const first = await signIn(t, 'fan.agent', PASSWORD, from('10.0.4.1'));
      assert.equal(first.body.twoFactorRequired, true);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, code: wrongCode(secret, now) }, headers: from('10.0.4.1') });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
      assert.equal((await signIn(t, 'fan.agent', PASSWORD, from('10.0.4.2'))).status, 429);
      const failed = await listAudit(t.server.store.db, { action: 'login_failed', actor: 'fan.agent' });
      assert.deepEqual(failed.map((e) => (e.detail as { reason: string }).reason), Array(5).fill('bad_totp_code'));
    });

    test('kefu user unlock lifts a lock-out; kefu user disable stops sign-in and enable restores it', async () => {
      await createUser(t.server.store.db, { login: 'cao.agent', password: PASSWORD, role: 'agent' });
      const cookie = (await signIn(t, 'cao.agent', PASSWORD, from('10.0.5.1'))).cookie!;
      for (let i = 0; i < 5; i++) await signIn(t, 'cao.agent', 'wrong-wrong-wrong', from('10.0.5.1'));
      assert.equal((await signIn(t, 'cao.agent', PASSWORD, from('10.0.5.2'))).status, 429);
      const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
      const kefu = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'user', ...args], { env, encoding: 'utf8' });
      assert.equal(kefu('unlock', '--login', 'cao.agent').status, 0);
      assert.equal((await signIn(t, 'cao.agent', PASSWORD, from('10.0.5.2'))).status, 200);

      const disabled = kefu('disable', '--login', 'cao.agent');
      assert.equal(disabled.status, 0, disabled.stderr);
      assert.match(disabled.stdout, /cao\.agent disabled, 2 session\(s\) ended/);
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie })).status, 401);
      assert.equal((await signIn(t, 'cao.agent', PASSWORD, from('10.0.5.3'))).status, 401);
      assert.equal(kefu('enable', '--login', 'cao.agent').status, 0);
      assert.equal((await signIn(t, 'cao.agent', PASSWORD, from('10.0.5.3'))).status, 200);
      const actions = (await listAudit(t.server.store.db, { actor: 'local-operator' })).map((e) => e.action);
      assert.deepEqual(actions.slice(0, 3), ['user.enable', 'user.disable', 'user.unlock']);
    });
  });
}
