import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import { createCustomer } from '../customers/index.ts';
import { openConversation } from '../conversations/index.ts';
import { createUser } from './users.ts';
import { OrgError, addGroupMember, createDepartment, createGroup, deleteDepartment, deleteGroup, groupChangeDetail, listGroups, renameDepartment, updateGroup } from './org.ts';
import { canReadConversation, viewerOf } from './policies/conversations.ts';
import { addPolicy } from './retention.ts';

type Store = Awaited<ReturnType<typeof freshStore>>;

const refusal = (code: OrgError['code'], message: RegExp) => (err: unknown) => err instanceof OrgError && err.code === code && message.test(err.message);

for (const dialect of testDialects()) {
  describe(`organisation changes (${dialect})`, () => {
    let store: Store;
    before(async () => {
      store = await freshStore(dialect);
    });
    after(async () => store.drop());

    test("moving a group to another department moves its conversations into that department's supervisors' view", async () => {
      const sales = await createDepartment(store.db, '销售部');
      const service = await createDepartment(store.db, '客服部');
      const group = await createGroup(store.db, '大客户', sales.id);
      const salesLead = await createUser(store.db, { login: 'sales-lead', password: 'supervisor-password-1', role: 'supervisor', departmentId: sales.id });
      const serviceLead = await createUser(store.db, { login: 'service-lead', password: 'supervisor-password-2', role: 'supervisor', departmentId: service.id });
      const customer = await createCustomer(store.db, { name: '大客户甲' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      await store.db.updateTable('conversation').set({ group_id: group.id }).where('id', '=', conversation.id).execute();
      const reads = async (u: typeof salesLead) => canReadConversation(store.db, await viewerOf(store.db, u), conversation.id);
      assert.deepEqual([await reads(salesLead), await reads(serviceLead)], [true, false]);

      const { before: was, after: now } = await updateGroup(store.db, group.id, { departmentId: service.id });
      assert.deepEqual(groupChangeDetail(was, now), { moved: { from: sales.id, to: service.id } });
      assert.deepEqual([await reads(salesLead), await reads(serviceLead)], [false, true]);
      // a change that changes nothing says so
      const same = await updateGroup(store.db, group.id, { name: '大客户' });
      assert.equal(groupChangeDetail(same.before, same.after), null);

      // the group has a conversation: renamed yes, deleted no
      await updateGroup(store.db, group.id, { name: '重点客户' });
      await assert.rejects(deleteGroup(store.db, group.id), refusal('in_use', /group 重点客户 is named by 1 conversation; it can be renamed, but not deleted/));
      assert.deepEqual((await listGroups(store.db)).map((g) => g.name), ['重点客户']);
    });

    test('a department goes only when it is empty; an unused group goes with its memberships', async () => {
      const dep = await createDepartment(store.db, '技术部');
      const group = await createGroup(store.db, '二线支持', dep.id);
      const engineer = await createUser(store.db, { login: 'engineer', password: 'agent-password-123', role: 'agent', departmentId: dep.id });
      await addGroupMember(store.db, group.id, engineer.id);

      await assert.rejects(renameDepartment(store.db, dep.id, '销售部'), refusal('name_taken', /already exists/));
      assert.deepEqual((await renameDepartment(store.db, dep.id, '技术支持部')).after, { id: dep.id, name: '技术支持部' });
      await assert.rejects(deleteDepartment(store.db, dep.id), refusal('in_use', /still has groups 二线支持 and people engineer/));
      await assert.rejects(updateGroup(store.db, group.id, { name: '重点客户' }), refusal('name_taken', /a group named "重点客户" already exists/));
      await assert.rejects(updateGroup(store.db, group.id, { departmentId: 'dep_none' }), refusal('not_found', /dep_none/));

      // a retention rule naming the group keeps it too
      await addPolicy(store, { name: '二线保留', keepDays: 30, group: group.id }, { id: null, login: 'test', role: 'admin' });
      await assert.rejects(deleteGroup(store.db, group.id), refusal('in_use', /retention rule 二线保留/));
      await store.db.deleteFrom('retention_policy').where('group_id', '=', group.id).execute();

      assert.deepEqual((await deleteGroup(store.db, group.id)).memberIds, [engineer.id]);
      assert.equal((await store.db.selectFrom('group_member').select('user_id').where('group_id', '=', group.id).execute()).length, 0);
      await assert.rejects(deleteGroup(store.db, group.id), refusal('not_found', /does not exist/));
      await assert.rejects(deleteDepartment(store.db, dep.id), refusal('in_use', /still has people engineer/));
      await store.db.updateTable('app_user').set({ department_id: null }).where('id', '=', engineer.id).execute();
      assert.equal((await deleteDepartment(store.db, dep.id)).name, '技术支持部');
      assert.equal(await store.db.selectFrom('department').select('id').where('id', '=', dep.id).executeTakeFirst(), undefined);
    });
  });
}
