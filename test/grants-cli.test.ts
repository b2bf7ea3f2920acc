import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './support/databases.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { createCustomer } from '../src/customers/index.ts';
import { openConversation } from '../src/conversations/index.ts';
import { AuditLog, createUser, listAudit, requestGrant } from '../src/governance/index.ts';

const root = path.resolve(import.meta.dirname, '..');

describe('kefu grant', () => {
  let dataDir: string;
  let store: Store;
  const ids: string[] = [];
  const kefu = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'grant', ...args], { env: { ...process.env, KEFU_DATA_DIR: dataDir, KEFU_DATABASE_URL: '' }, encoding: 'utf8' });

  before(async () => {
    dataDir = tempDir();
    store = await openStore({ dataDir });
    const auditor = await createUser(store.db, { login: 'shenji', password: 'auditor-password-1', role: 'auditor' });
    const customer = await createCustomer(store.db, { name: '王女士', vipLevel: 1 });
    const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
    const deps = { db: store.db, dialect: store.dialect, audit: new AuditLog(store.db, store.dialect) };
    for (const reason of ['投诉复核第一次', '投诉复核第二次']) {
      ids.push((await requestGrant(deps, auditor, { kind: 'conversations', conversationIds: [conversation.id], reason, durationHours: 8 })).id);
    }
  });
  after(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('list --pending shows the requests; --json prints one object per line', () => {
    const r = kefu(['list', '--pending']);
    assert.equal(r.status, 0, r.stderr);
    for (const id of ids) assert.match(r.stdout, new RegExp(`^${id}\\s+requested\\s+shenji`, 'm'));
    const json = kefu(['list', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json.map((g) => g.id).sort(), [...ids].sort());
  });

  test('approve and deny as the local operator, audited; deciding twice or an unknown id fails', async () => {
    const ok = kefu(['approve', ids[0]!]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /approved .* for shenji: 1 conversations until/);
    const no = kefu(['deny', ids[1]!, '--note', '理由不充分']);
    assert.equal(no.status, 0, no.stderr);
    assert.notEqual(kefu(['deny', ids[1]!]).status, 0, '--note is required');
    const again = kefu(['approve', ids[1]!]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already decided \(denied\)/);
    assert.equal(kefu(['approve', 'grt_nothing']).status, 3);
    assert.match(kefu(['list', '--pending']).stdout, /no pending access requests/);
    const events = await listAudit(store.db, { actor: 'local-operator' });
    assert.deepEqual(events.map((e) => [e.action, e.target?.id]), [['grant.deny', ids[1]], ['grant.approve', ids[0]]]);
    const revoked = kefu(['revoke', ids[0]!]);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(kefu(['list']).stdout, new RegExp(`^${ids[0]}\\s+revoked`, 'm'));
  });

  test('settings get|set grant-approver-roles: admin always, audited as a configuration change', async () => {
    const settings = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'settings', ...args], { env: { ...process.env, KEFU_DATA_DIR: dataDir, KEFU_DATABASE_URL: '' }, encoding: 'utf8' });
    assert.equal(settings(['get', 'grant-approver-roles']).stdout, 'admin\n');
    const set = settings(['set', 'grant-approver-roles', 'admin,supervisor']);
    assert.equal(set.status, 0, set.stderr);
    assert.equal(set.stdout, 'grant-approver-roles: supervisor,admin\n');
    assert.equal(settings(['get', 'grant-approver-roles']).stdout, 'supervisor,admin\n');
    const bad = settings(['set', 'grant-approver-roles', 'supervisor']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /must include admin/);
    assert.match(settings(['get', 'colour']).stderr, /unknown setting "colour" \(known: 2fa-roles, grant-approver-roles\)/);
    const [change] = await listAudit(store.db, { action: 'config.change' });
    assert.equal(change!.actor.login, 'local-operator');
    assert.deepEqual(change!.target, { type: 'setting', id: 'grantApproverRoles' });
    assert.deepEqual(change!.detail, { from: ['admin'], to: ['supervisor', 'admin'] });
  });
});
