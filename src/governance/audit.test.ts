import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { testDialects } from '../../test/support/databases.ts';
import { CSRF, startTestServer, call, nextEvent, connected, type TestServer } from '../../test/support/server.ts';
import { listAudit, verifyAuditChain } from './audit.ts';

const root = path.resolve(import.meta.dirname, '../..');

for (const dialect of testDialects()) {
  describe(`audit trail (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(dialect);
    });
    after(async () => t.close());

    test('logins, views, searches and logouts are recorded with actor, target, query and IP', async () => {
      const bad = await fetch(`${t.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'intruder', password: 'guess-guess' }) });
      assert.equal(bad.status, 401);
      const cookie = await t.login('auditee');
      const customer = t.customer();
      await nextEvent(customer, 'session');
      const ack = await call(customer, 'message:send', { clientId: 'a1', text: '我要投诉，订单一直没发货' });
      await fetch(`${t.url}/api/v1/conversations/${ack.conversationId}/messages`, { headers: { cookie } });
      const agent = t.agent(cookie);
      await connected(agent);
      await call(agent, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 0 });
      await fetch(`${t.url}/api/v1/search?q=${encodeURIComponent('投诉')}&from=2020-01-01`, { headers: { cookie } });
      await fetch(`${t.url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, ...CSRF } });

      const events = (await listAudit(t.server.store.db, { limit: 50 })).reverse();
      const actions = events.map((e) => `${e.action}:${e.actor.login}`);
      assert.deepEqual(actions, ['login_failed:intruder', 'login:auditee', 'view:auditee', 'view:auditee', 'search:auditee', 'logout:auditee']);
      const view = events.find((e) => e.action === 'view')!;
      assert.deepEqual(view.target, { type: 'conversation', id: ack.conversationId });
      assert.ok(view.ip);
      const search = events.find((e) => e.action === 'search')!;
      assert.equal((search.query as { q: string }).q, '投诉');
      assert.equal((search.query as { from: string }).from, '2020-01-01');
      assert.deepEqual(await verifyAuditChain(t.server.store.db), { checked: events.length, broken: null });
    });

    test('kefu audit --json prints one object per line with its action; CLI searches are audited as the local operator', () => {
      const env = { ...process.env, KEFU_DATA_DIR: t.dataDir, KEFU_DATABASE_URL: t.databaseUrl ?? '' };
      const kefu = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env, encoding: 'utf8' });
      assert.equal(kefu(['search', '发货']).status, 0);
      const r = kefu(['audit', '--json', '--action', 'search']);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(lines.every((e) => e.action === 'search'));
      assert.equal(lines[0].actor.login, 'local-operator');
      assert.equal(lines[0].query.q, '发货');
      const byActor = kefu(['audit', '--json', '--actor', 'auditee']);
      assert.ok(byActor.stdout.trim().split('\n').map((l) => JSON.parse(l)).every((e) => e.actor.login === 'auditee'));
      assert.equal(kefu(['audit', '--from', 'someday']).status, 2);
    });
  });
}
