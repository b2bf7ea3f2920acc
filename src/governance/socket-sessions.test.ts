import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { testDialects } from '../../test/support/databases.ts';
import { connected, startTestServer, type TestServer } from '../../test/support/server.ts';
import { api, signIn } from '../../test/support/auth.ts';
import { createUser } from './users.ts';
import { revokeSessionsOf } from './accounts.ts';
import { LOCAL_OPERATOR } from './audit.ts';

const root = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'harbour-lantern-73';
const MINUTE = 60_000;

/** Resolves with how long the server took to close the socket; rejects when it stays open past the limit. */
function closedWithin(socket: Socket, ms: number): Promise<{ ms: number; ended: boolean }> {
  const started = Date.now();
  let ended = false;
  socket.on('session:ended', () => (ended = true));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      if (reason !== 'io server disconnect') reject(new Error(`disconnected for another reason: ${reason}`));
      else resolve({ ms: Date.now() - started, ended });
    });
  });
}

/** A second connection with the same cookie: the handshake must refuse it. */
/** signs in over HTTP and opens an /agent socket with that session */
async function signedInSocket(t: TestServer, login: string) {
  const r = await signIn(t, login, PASSWORD);
  assert.equal(r.status, 200);
  const socket = t.agent(r.cookie!);
  await connected(socket);
  return { cookie: r.cookie!, socket };
}

async function refused(t: TestServer, cookie: string): Promise<string> {
  const again = t.agent(cookie);
  try {
    await connected(again);
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  } finally {
    again.disconnect();
  }
}

const stillOpen = async (socket: Socket) => {
  await new Promise((r) => setTimeout(r, 300));
  return socket.connected;
};

for (const dialect of testDialects()) {
  describe(`revocations made through this server's API close open sockets at once (${dialect})`, () => {
    let t: TestServer;
    let adminCookie: string;
    before(async () => {
      // the periodic check is five minutes away: only the immediate path can close a socket within these tests
      t = await startTestServer(dialect, { env: { KEFU_SESSION_CHECK_SECONDS: '300' } });
      adminCookie = await t.login('sock.admin', 'admin');
    });
    after(async () => t.close());

    const agentSession = (login: string) => signedInSocket(t, login);

    test('an admin revokes every session of an agent: the agent’s sockets close within a second, and reconnecting is refused', async () => {
      const agent = await createUser(t.server.store.db, { login: 'sock.revoked', password: PASSWORD, role: 'agent' });
      const laptop = await agentSession('sock.revoked');
      const phone = await agentSession('sock.revoked');
      const bystander = await agentSession((await createUser(t.server.store.db, { login: 'sock.bystander', password: PASSWORD, role: 'agent' })).login);
      const closing = [closedWithin(laptop.socket, 1000), closedWithin(phone.socket, 1000)];
      const r = await api(t, 'DELETE', `/api/v1/admin/users/${agent.id}/sessions`, { cookie: adminCookie });
      assert.equal(r.status, 200);
      for (const c of await Promise.all(closing)) assert.ok(c.ended, 'the console is told its session ended before the disconnect');
      assert.match(await refused(t, laptop.cookie), /^unauthorized/);
      assert.ok(await stillOpen(bystander.socket), 'other users keep their sockets');
    });

    test('ending one session in the session list closes that session’s socket only', async () => {
      await createUser(t.server.store.db, { login: 'sock.list', password: PASSWORD, role: 'agent' });
      const kept = await agentSession('sock.list');
      const ended = await agentSession('sock.list');
      const sessions: Array<{ id: string; current: boolean }> = (await api(t, 'GET', '/api/v1/auth/sessions', { cookie: kept.cookie })).body.sessions;
      const other = sessions.find((s) => !s.current)!;
      const closing = closedWithin(ended.socket, 1000);
      assert.equal((await api(t, 'DELETE', `/api/v1/auth/sessions/${other.id}`, { cookie: kept.cookie })).status, 200);
      await closing;
      assert.ok(await stillOpen(kept.socket));
    });

    test('a password change closes the sockets of the other sessions; signing out closes this one', async () => {
      await createUser(t.server.store.db, { login: 'sock.pw', password: PASSWORD, role: 'agent' });
      const here = await agentSession('sock.pw');
      const elsewhere = await agentSession('sock.pw');
      const closing = closedWithin(elsewhere.socket, 1000);
      const r = await api(t, 'POST', '/api/v1/auth/password', { cookie: here.cookie, body: { current: PASSWORD, next: 'new-harbour-lantern-99' } });
      assert.equal(r.status, 200);
      await closing;
      assert.ok(await stillOpen(here.socket), 'the browser that changed the password stays signed in');
      const signingOut = closedWithin(here.socket, 1000);
      assert.equal((await api(t, 'POST', '/api/v1/auth/logout', { cookie: here.cookie })).status, 200);
      await signingOut;
    });

    test('requiring a second factor of a role closes the sockets of its members who have none', async () => {
      await createUser(t.server.store.db, { login: 'sock.super', password: PASSWORD, role: 'supervisor' });
      const supervisor = await agentSession('sock.super');
      const agent = await agentSession((await createUser(t.server.store.db, { login: 'sock.plain', password: PASSWORD, role: 'agent' })).login);
      const closing = closedWithin(supervisor.socket, 1000);
      assert.equal((await api(t, 'PUT', '/api/v1/admin/settings/2fa', { cookie: adminCookie, body: { roles: ['supervisor', 'auditor', 'admin'] } })).status, 200);
      await closing;
      assert.match(await refused(t, supervisor.cookie), /^unauthorized/, 'the session may only enrol now');
      assert.ok(await stillOpen(agent.socket));
      assert.equal((await api(t, 'PUT', '/api/v1/admin/settings/2fa', { cookie: adminCookie, body: { roles: ['auditor', 'admin'] } })).status, 200);
    });
  });

  describe(`revocations made elsewhere (the CLI, another node) and idle expiry close sockets at the periodic check (${dialect})`, () => {
    let t: TestServer;
    let now = Date.now();
    before(async () => {
      t = await startTestServer(dialect, { env: { KEFU_SESSION_CHECK_SECONDS: '0.25' }, authPolicy: { now: () => now } });
    });
    after(async () => t.close());

    const agentSession = (login: string) => signedInSocket(t, login);
    const cli = (...args: string[]) => {
      const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
      const r = spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };

    test('kefu user revoke-sessions in another process: the socket closes within the check interval', async () => {
      await createUser(t.server.store.db, { login: 'cli.revoked', password: PASSWORD, role: 'agent' });
      const s = await agentSession('cli.revoked');
      assert.match(cli('user', 'revoke-sessions', '--login', 'cli.revoked'), /1 session\(s\) ended/);
      // the CLI has exited before the clock starts: the socket must close within about one interval
      await closedWithin(s.socket, 1500);
      assert.match(await refused(t, s.cookie), /^unauthorized/);
    });

    test('the store function the CLI calls, without any notice to the server, is enough', async () => {
      await createUser(t.server.store.db, { login: 'fn.revoked', password: PASSWORD, role: 'agent' });
      const s = await agentSession('fn.revoked');
      const closing = closedWithin(s.socket, 1500);
      await revokeSessionsOf(t.server.store.db, t.server.audit, LOCAL_OPERATOR, 'fn.revoked');
      const { ms } = await closing;
      assert.ok(ms < 1500, `closed after ${ms} ms`);
    });

    test('kefu user disable closes the disabled user’s socket', async () => {
      await createUser(t.server.store.db, { login: 'cli.disabled', password: PASSWORD, role: 'agent' });
      const s = await agentSession('cli.disabled');
      assert.match(cli('user', 'disable', '--login', 'cli.disabled'), /disabled/);
      await closedWithin(s.socket, 1500);
      assert.match(await refused(t, s.cookie), /^unauthorized/);
    });

    test('a session that runs past its idle timeout closes its socket; a session in use keeps it', async () => {
      await createUser(t.server.store.db, { login: 'idle.sock', password: PASSWORD, role: 'agent' });
      await createUser(t.server.store.db, { login: 'busy.sock', password: PASSWORD, role: 'agent' });
      const idle = await agentSession('idle.sock');
      const busy = await agentSession('busy.sock');
      now += 20 * MINUTE;
      assert.equal((await api(t, 'GET', '/api/v1/auth/me', { cookie: busy.cookie })).status, 200);
      assert.ok(await stillOpen(idle.socket), 'twenty minutes idle is within the timeout');
      const closing = closedWithin(idle.socket, 1500);
      now += 15 * MINUTE;
      await closing;
      assert.ok(await stillOpen(busy.socket), 'used fifteen minutes ago');
    });
  });
}
