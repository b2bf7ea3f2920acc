import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './support/databases.ts';

const root = path.resolve(import.meta.dirname, '..');

describe('kefu command line', () => {
  let dataDir: string;
  const kefu = (args: string[], input?: string) =>
    spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env: { ...process.env, KEFU_DATA_DIR: dataDir, KEFU_DATABASE_URL: '' }, input, encoding: 'utf8' });
  before(() => {
    dataDir = tempDir();
  });
  after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test('--help lists the commands', () => {
    const r = kefu(['--help']);
    assert.equal(r.status, 0);
    for (const c of ['serve', 'start', 'user', 'demo', 'search']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  });

  test('demo seeds staff with generated passwords and refuses to run twice', () => {
    const r = kefu(['demo']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^agent\tagent\t\S{10,}$/m);
    assert.ok(fs.existsSync(path.join(dataDir, 'demo-credentials.txt')));
    const again = kefu(['demo']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already has users/);
  });

  test('user add creates an account with a piped password and refuses a duplicate login', () => {
    const r = kefu(['user', 'add', '--login', 'zhou', '--role', 'supervisor', '--password-stdin'], 'a-long-password\n');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /created supervisor "zhou"/);
    const dup = kefu(['user', 'add', '--login', 'zhou', '--role', 'agent']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    const badRole = kefu(['user', 'add', '--login', 'x1', '--role', 'boss']);
    assert.notEqual(badRole.status, 0);
    assert.match(badRole.stderr, /boss/);
  });

  test('search --json prints one object per hit; traditional finds simplified', () => {
    const r = kefu(['search', '發票', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 1);
    for (const h of lines) {
      assert.deepEqual(Object.keys(h).sort(), ['conversationId', 'createdAt', 'externalId', 'messageId', 'role', 'seq', 'snippet']);
      assert.match(h.snippet, /发票/);
    }
    const table = kefu(['search', '退款']);
    assert.match(table.stdout, /【退款】/);
    assert.match(table.stdout, /共 \d+ 条/);
  });

  test('org: departments, groups, membership; duplicates refused; every change audited', () => {
    assert.equal(kefu(['org', 'department', 'add', '售后服务部']).status, 0);
    assert.equal(kefu(['org', 'group', 'add', '大客户', '--department', '售后服务部']).status, 0);
    assert.equal(kefu(['org', 'group', 'join', '大客户', '--login', 'agent']).status, 0);
    assert.equal(kefu(['org', 'assign', '--login', 'supervisor', '--department', '售后服务部']).status, 0);
    const list = kefu(['org', 'list']);
    assert.match(list.stdout, /售后服务部/);
    assert.match(list.stdout, /大客户 \(grp_[^)]+\): agent/);
    assert.match(list.stdout, /客服部[\s\S]*售前 \(grp_[^)]+\): agent, agent2/, 'the demo seeds a department with its groups');
    assert.match(list.stdout, /· supervisor \[supervisor\]/);
    const dup = kefu(['org', 'group', 'add', '大客户']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    assert.equal(kefu(['org', 'group', 'join', 'nope', '--login', 'agent']).status, 1);
    const left = kefu(['org', 'group', 'leave', '大客户', '--login', 'agent']);
    assert.equal(left.status, 0, left.stderr);
    assert.match(left.stdout, /agent left 大客户/);
    assert.match(kefu(['org', 'list']).stdout, /大客户 \(grp_[^)]+\): —/);
    const again = kefu(['org', 'group', 'leave', '大客户', '--login', 'agent']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /agent is not a member of 大客户/);
    const audit = kefu(['audit', '--json', '--actor', 'local-operator']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(audit.filter((e) => e.action === 'config.change').length >= 2);
    assert.ok(audit.filter((e) => e.action === 'role.change').length >= 3);
    assert.ok(audit.some((e) => e.action === 'role.change' && e.detail?.leftGroup));
  });

  test('org: departments and groups are renamed, moved and removed; what is still in use stays, with the reason', () => {
    assert.equal(kefu(['org', 'department', 'add', '渠道部']).status, 0);
    assert.equal(kefu(['org', 'group', 'add', '渠道一组', '--department', '渠道部']).status, 0);
    const renamed = kefu(['org', 'department', 'rename', '渠道部', '--to', '渠道合作部']);
    assert.equal(renamed.status, 0, renamed.stderr);
    assert.match(renamed.stdout, /department 渠道部 is now 渠道合作部/);
    const noName = kefu(['org', 'department', 'rename', '渠道合作部']);
    assert.equal(noName.status, 1);
    assert.match(noName.stderr, /--to NAME/);
    const busy = kefu(['org', 'department', 'remove', '渠道合作部']);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /still has groups 渠道一组/);

    assert.match(kefu(['org', 'group', 'rename', '渠道一组', '--to', '渠道 VIP']).stdout, /group 渠道 VIP \(grp_[^)]+\), 渠道合作部/);
    const moved = kefu(['org', 'group', 'move', '渠道 VIP', '--department', 'none']);
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stdout, /no department/);
    assert.match(kefu(['org', 'list']).stdout, /渠道 VIP \(grp_[^,]+, no department\)/);
    assert.equal(kefu(['org', 'department', 'remove', '渠道合作部']).status, 0);
    assert.doesNotMatch(kefu(['org', 'list']).stdout, /渠道合作部/);

    assert.equal(kefu(['org', 'group', 'join', '渠道 VIP', '--login', 'agent']).status, 0);
    const removed = kefu(['org', 'group', 'remove', '渠道 VIP']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, /removed group 渠道 VIP and its 1 membership/);
    assert.equal(kefu(['org', 'group', 'remove', '渠道 VIP']).status, 1);
    // a group that a retention rule names can be renamed, not removed
    assert.equal(kefu(['org', 'group', 'add', '渠道二组']).status, 0);
    assert.equal(kefu(['retention', 'add', '--name', '渠道二组保留', '--days', '90', '--group', '渠道二组']).status, 0);
    const used = kefu(['org', 'group', 'remove', '渠道二组']);
    assert.equal(used.status, 1);
    assert.match(used.stderr, /group 渠道二组 is named by retention rule 渠道二组保留; it can be renamed, but not deleted/);
    assert.match(kefu(['org', 'list']).stdout, /渠道二组 \(grp_/);

    const audit = kefu(['audit', '--json', '--actor', 'local-operator', '--action', 'config.change']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const details = audit.map((e) => JSON.stringify(e.detail));
    for (const d of ['"renamed":{"from":"渠道部","to":"渠道合作部"}', '"renamed":{"from":"渠道一组","to":"渠道 VIP"}', '"deleted":"渠道合作部"', '"deleted":"渠道 VIP"']) {
      assert.ok(details.some((x) => x.includes(d)), `audited: ${d}`);
    }
  });

  test('bad options and configuration give a clear message and a non-zero exit', () => {
    const r = kefu(['search', 'x', '--from', 'yesterday']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--from: must be an ISO 8601/);
    const bad = spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'search', 'x'], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /PORT/);
  });
});
