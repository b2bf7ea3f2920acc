import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/server.ts';
import { api } from './support/auth.ts';
import { addPolicy, listAudit } from '../src/governance/index.ts';
import { createCustomer } from '../src/customers/index.ts';
import { openConversation } from '../src/conversations/index.ts';

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

  test('an admin renames and deletes departments and groups; what is still in use is refused with the reason, and every change is audited', async () => {
    const db = t.server.store.db;
    const dep = (await api(t, 'POST', '/api/v1/org/departments', { cookie: admin, body: { name: '售前部' } })).body.department;
    const other = (await api(t, 'POST', '/api/v1/org/departments', { cookie: admin, body: { name: '电话销售部' } })).body.department;
    const group = (await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: '售前一组', departmentId: dep.id } })).body.group;

    const renamed = await api(t, 'PATCH', `/api/v1/org/departments/${dep.id}`, { cookie: admin, body: { name: ' 售前服务部 ' } });
    assert.equal(renamed.status, 200);
    assert.deepEqual(renamed.body.department, { id: dep.id, name: '售前服务部' });
    const clash = await api(t, 'PATCH', `/api/v1/org/departments/${dep.id}`, { cookie: admin, body: { name: '电话销售部' } });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.code, 'name_taken');
    assert.equal((await api(t, 'PATCH', '/api/v1/org/departments/dep_none', { cookie: admin, body: { name: '无' } })).status, 404);

    // a department that still holds a group is not emptied behind the admin's back
    const full = await api(t, 'DELETE', `/api/v1/org/departments/${dep.id}`, { cookie: admin });
    assert.equal(full.status, 409);
    assert.equal(full.body.error.code, 'in_use');
    assert.match(full.body.error.message, /still has groups 售前一组; move them/);

    // rename and move the group in one change; then the old department is empty and goes
    const moved = await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { name: '售前 VIP', departmentId: other.id } });
    assert.equal(moved.status, 200);
    assert.deepEqual(moved.body.group, { id: group.id, name: '售前 VIP', departmentId: other.id });
    assert.equal((await api(t, 'DELETE', `/api/v1/org/departments/${dep.id}`, { cookie: admin })).status, 200);
    assert.equal((await api(t, 'DELETE', `/api/v1/org/departments/${dep.id}`, { cookie: admin })).status, 404);

    // a person in a department also keeps it
    await api(t, 'PUT', `/api/v1/org/users/${agentId}/department`, { cookie: admin, body: { departmentId: other.id } });
    await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { departmentId: null } });
    const person = await api(t, 'DELETE', `/api/v1/org/departments/${other.id}`, { cookie: admin });
    assert.equal(person.status, 409);
    assert.match(person.body.error.message, /still has people org\.agent/);
    await api(t, 'PUT', `/api/v1/org/users/${agentId}/department`, { cookie: admin, body: { departmentId: null } });

    // a group named by a conversation or a retention rule can be renamed, not deleted
    const customer = await createCustomer(db, { name: '分组客户' });
    const { conversation } = await openConversation(db, { customerId: customer.id, channel: 'web' });
    await db.updateTable('conversation').set({ group_id: group.id }).where('id', '=', conversation.id).execute();
    const used = await api(t, 'DELETE', `/api/v1/org/groups/${group.id}`, { cookie: admin });
    assert.equal(used.status, 409);
    assert.match(used.body.error.message, /group 售前 VIP is named by 1 conversation; it can be renamed, but not deleted/);
    await db.updateTable('conversation').set({ group_id: null }).where('id', '=', conversation.id).execute();
    await addPolicy(t.server.store, { name: '售前保留一年', keepDays: 365, group: group.id }, { id: null, login: 'org.admin', role: 'admin' });
    assert.match((await api(t, 'DELETE', `/api/v1/org/groups/${group.id}`, { cookie: admin })).body.error.message, /retention rule 售前保留一年/);
    await db.deleteFrom('retention_policy').where('group_id', '=', group.id).execute();

    // deleting an unused group takes its memberships with it
    await api(t, 'POST', `/api/v1/org/groups/${group.id}/members`, { cookie: admin, body: { userId: agentId } });
    assert.equal((await api(t, 'DELETE', `/api/v1/org/groups/${group.id}`, { cookie: admin })).status, 200);
    assert.equal((await db.selectFrom('group_member').select('user_id').where('group_id', '=', group.id).execute()).length, 0);
    assert.equal((await api(t, 'GET', '/api/v1/org', { cookie: admin })).body.groups.some((g: { id: string }) => g.id === group.id), false);

    const changes = (await listAudit(db, { actor: 'org.admin', action: 'config.change' })).reverse().filter((e) => e.target?.id === dep.id || e.target?.id === group.id);
    assert.deepEqual(
      changes.map((e) => e.detail),
      [
        { created: '售前部' },
        { created: '售前一组', departmentId: dep.id },
        { renamed: { from: '售前部', to: '售前服务部' } },
        { renamed: { from: '售前一组', to: '售前 VIP' }, moved: { from: dep.id, to: other.id } },
        { deleted: '售前服务部' },
        { moved: { from: other.id, to: null } },
        { deleted: '售前 VIP', members: [agentId] },
      ],
    );
  });

  test('changes that say nothing or too much are refused with a message', async () => {
    const group = (await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: '空改动' } })).body.group;
    const empty = await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: {} });
    assert.equal(empty.status, 400);
    assert.match(empty.body.error.message, /give a new name, a departmentId/);
    assert.equal((await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { name: '' } })).status, 400);
    assert.equal((await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { name: 'x'.repeat(51) } })).status, 400);
    assert.equal((await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { departmentId: 'dep_none' } })).status, 404);
    assert.equal((await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: admin, body: { name: 'y', members: [] } })).status, 400);
    assert.equal((await api(t, 'PATCH', '/api/v1/org/groups/grp_none', { cookie: admin, body: { name: 'y' } })).status, 404);
    assert.equal((await api(t, 'DELETE', '/api/v1/org/groups/grp_none', { cookie: admin })).status, 404);
    assert.equal((await api(t, 'PATCH', `/api/v1/org/departments/dep_x`, { cookie: admin, body: { name: 5 } })).status, 400);
  });

  test('a supervisor reads the organisation but may not change it', async () => {
    const org = await api(t, 'GET', '/api/v1/org', { cookie: supervisor });
    assert.equal(org.status, 200);
    assert.deepEqual(org.body.may, { manage: false });
    const refused = await api(t, 'POST', '/api/v1/org/departments', { cookie: supervisor, body: { name: '销售部' } });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /only admin may change departments, groups and memberships/);
    const group = (await api(t, 'POST', '/api/v1/org/groups', { cookie: admin, body: { name: '只读组' } })).body.group;
    assert.equal((await api(t, 'PATCH', `/api/v1/org/groups/${group.id}`, { cookie: supervisor, body: { name: '改名' } })).status, 403);
    assert.equal((await api(t, 'DELETE', `/api/v1/org/groups/${group.id}`, { cookie: supervisor })).status, 403);
    assert.equal((await api(t, 'GET', '/api/v1/org', { cookie: admin })).body.groups.find((g: { id: string }) => g.id === group.id).name, '只读组');
  });
});
