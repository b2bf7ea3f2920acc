import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/server.ts';
import { api } from './support/auth.ts';
import { listAudit } from '../src/governance/index.ts';

describe('organisation API: departments, groups, members', () => {
  let t: TestServer;
  let admin: string;
  let supervisor: string;
  let agentId: string;
  before(async () => {
    t = await startTestServer('sqlite');
    admin = await t.login('org.admin', 'admin');
    supervisor = await t.login('org.super', 'supervisor');
    await t.login('org.agent', 'agent');
    agentId = (await t.server.store.db.selectFrom('app_user').select('id').where('login', '=', 'org.agent').executeTakeFirstOrThrow()).id;
  });
  after(async () => t.close());

  test('an admin builds a department with a group, adds an agent, moves them out again; each step is audited', async () => {
    const dep = await api(t, 'POST', '/api/v1/org/departments', { cookie: admin, body: { name: '售后服务部' } });
    assert.equal(dep.status, 201);
    const group = await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: 'VIP', departmentId: dep.body.department.id } });
    assert.equal(group.status, 201);
    const groupId: string = group.body.group.id;
    assert.equal((await api(t, 'POST', `/api/v1/org/groups/${groupId}/members`, { cookie: admin, body: { userId: agentId } })).status, 200);
    assert.equal((await api(t, 'PUT', `/api/v1/org/users/${agentId}/department`, { cookie: admin, body: { departmentId: dep.body.department.id } })).status, 200);

    const org = await api(t, 'GET', '/api/v1/org', { cookie: admin });
    assert.equal(org.status, 200);
    assert.deepEqual(org.body.may, { manage: true });
    assert.deepEqual(org.body.groups.find((g: { id: string }) => g.id === groupId).memberIds, [agentId]);
    assert.equal(org.body.users.find((u: { id: string }) => u.id === agentId).departmentId, dep.body.department.id);

    assert.equal((await api(t, 'DELETE', `/api/v1/org/groups/${groupId}/members/${agentId}`, { cookie: admin })).status, 200);
    const again = await api(t, 'DELETE', `/api/v1/org/groups/${groupId}/members/${agentId}`, { cookie: admin });
    assert.equal(again.status, 404);
    assert.match(again.body.error.message, /is not a member of group VIP/);
    assert.deepEqual((await api(t, 'GET', '/api/v1/org', { cookie: admin })).body.groups.find((g: { id: string }) => g.id === groupId).memberIds, []);

    const changes = await listAudit(t.server.store.db, { actor: 'org.admin', action: 'role.change' });
    assert.deepEqual(changes.map((e) => e.detail).reverse(), [{ joinedGroup: groupId }, { departmentId: dep.body.department.id }, { leftGroup: groupId }]);
    assert.ok(changes.every((e) => e.target?.id === agentId));
    const created = await listAudit(t.server.store.db, { actor: 'org.admin', action: 'config.change' });
    assert.deepEqual(created.map((e) => e.target?.type).sort(), ['department', 'group']);
  });

  test('mistakes get a 4xx with a message: duplicates, unknown ids, empty names, stray fields', async () => {
    await api(t, 'POST', '/api/v1/org/departments', { cookie: admin, body: { name: '技术部' } });
    const dup = await api(t, 'POST', '/api/v1/org/departments', { cookie: admin, body: { name: '技术部' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'name_taken');
    const noDep = await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: '技术', departmentId: 'dep_none' } });
    assert.equal(noDep.status, 404);
    assert.equal((await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: '   ' } })).status, 400);
    assert.equal((await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: 'x', colour: 'red' } })).status, 400);
    assert.equal((await api(t, 'DELETE', '/api/v1/org/groups/grp_none/members/usr_none', { cookie: admin })).status, 404);
  });

  test('a supervisor reads the organisation but may not change it', async () => {
    const org = await api(t, 'GET', '/api/v1/org', { cookie: supervisor });
    assert.equal(org.status, 200);
    assert.deepEqual(org.body.may, { manage: false });
    const refused = await api(t, 'POST', '/api/v1/org/departments', { cookie: supervisor, body: { name: '销售部' } });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /only admin may change departments, groups and memberships/);
  });
});
