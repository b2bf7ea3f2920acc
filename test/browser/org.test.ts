import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, pageWithCookie } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';
import { createDepartment, createGroup, listAudit } from '../../src/governance/index.ts';
import { createCustomer } from '../../src/customers/index.ts';
import { openConversation } from '../../src/conversations/index.ts';

/** Opens an antd Select by its label and picks the option with this text. */
async function pick(page: Page, label: string, option: string) {
  await page.getByLabel(label, { exact: true }).click();
  await page.locator('.ant-select-dropdown:visible .ant-select-item-option', { hasText: option }).first().click();
}

test('an admin builds a department and a group in the console, adds an agent, and finds it all in the audit trail; supervisors read only', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const srv = await startTestServer('sqlite');
  try {
    const adminCookie = await srv.login('org-admin', 'admin');
    const supervisorCookie = await srv.login('org-super', 'supervisor');
    const agentCookie = await srv.login('org-agent');
    const db = srv.server.store.db;
    const agentId = (await db.selectFrom('app_user').select('id').where('login', '=', 'org-agent').executeTakeFirstOrThrow()).id;

    const pageAs = (cookie: string) => pageWithCookie(browser, srv.url, cookie);

    const { page, errors } = await pageAs(adminCookie);
    await page.goto(srv.url);
    // the rail leads there
    await page.getByRole('button', { name: '组织架构' }).click();
    await page.getByRole('heading', { name: '组织架构' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/org');
    await page.getByText('还没有部门，先新建一个部门').waitFor();
    await page.getByText('还没有小组').waitFor();

    await page.getByLabel('部门名称').fill('售后服务部');
    await page.getByRole('button', { name: /新建部门/ }).click();
    await page.getByText('已新建部门“售后服务部”').waitFor();
    await page.locator('.kf-org-departments tbody tr', { hasText: '售后服务部' }).waitFor();

    await page.getByLabel('小组名称').fill('VIP');
    await pick(page, '所属部门', '售后服务部');
    await page.getByRole('button', { name: /新建小组/ }).click();
    await page.getByText('已新建小组“VIP”').waitFor();
    const vipRow = page.locator('.kf-org-groups tbody tr', { hasText: 'VIP' });
    await vipRow.getByText('暂无成员').waitFor();
    await vipRow.getByText('售后服务部').waitFor();

    // a second group of the same name is refused with the server's reason, in Chinese
    await page.getByLabel('小组名称').fill('VIP');
    await page.getByRole('button', { name: /新建小组/ }).click();
    await page.getByText('名称“VIP”已被使用，请换一个').waitFor();

    await pick(page, '选择要加入的人员 VIP', 'org-agent');
    await vipRow.getByRole('button', { name: /添\s*加/ }).click();
    await page.getByText('已将 org-agent 加入“VIP”').waitFor();
    await vipRow.locator('.ant-tag', { hasText: 'org-agent' }).waitFor();
    await page.locator('.kf-org-people tbody tr', { hasText: 'org-agent' }).locator('.ant-tag', { hasText: 'VIP' }).waitFor();

    await pick(page, '部门 org-agent', '售后服务部');
    await page.getByText('org-agent 的部门已改为“售后服务部”').waitFor();

    // it is stored: a reload shows the same, and the database agrees
    await page.reload();
    await page.locator('.kf-org-groups tbody tr', { hasText: 'VIP' }).locator('.ant-tag', { hasText: 'org-agent' }).waitFor();
    const group = await db.selectFrom('agent_group').select(['id', 'department_id']).where('name', '=', 'VIP').executeTakeFirstOrThrow();
    assert.deepEqual((await db.selectFrom('group_member').select('user_id').where('group_id', '=', group.id).execute()).map((m) => m.user_id), [agentId]);
    assert.ok(group.department_id);
    await page.screenshot({ path: path.join(os.tmpdir(), 'kefu-org-page.png'), fullPage: true });

    // and audited: the admin sees the membership change in the audit trail
    await page.goto(`${srv.url}/audit`);
    await page.getByRole('heading', { name: '审计日志' }).waitFor();
    await page.locator('.kf-audit tbody tr', { hasText: `user:${agentId}` }).filter({ hasText: 'role.change' }).first().waitFor();
    await page.locator('.kf-audit tbody tr', { hasText: `group:${group.id}` }).filter({ hasText: 'config.change' }).waitFor();
    const changes = await listAudit(db, { actor: 'org-admin', action: 'role.change' });
    assert.deepEqual(changes.map((e) => e.detail).reverse(), [{ joinedGroup: group.id }, { departmentId: group.department_id }]);

    // taking the agent out again asks first
    await page.goto(`${srv.url}/org`);
    const row = page.locator('.kf-org-groups tbody tr', { hasText: 'VIP' });
    await row.locator('.ant-tag', { hasText: 'org-agent' }).click();
    await page.getByText('将 org-agent 移出“VIP”？', { exact: false }).waitFor();
    await page.locator('.ant-popover:visible').getByRole('button', { name: /确\s*定|OK/ }).click();
    await page.getByText('已将 org-agent 移出“VIP”').waitFor();
    await row.getByText('暂无成员').waitFor();
    assert.deepEqual(errors, []);

    // a supervisor reads the same page without the controls to change it
    const sup = await pageAs(supervisorCookie);
    await sup.page.goto(`${srv.url}/org`);
    await sup.page.getByText('只读：只有管理员可以修改组织架构').waitFor();
    await sup.page.locator('.kf-org-groups tbody tr', { hasText: 'VIP' }).waitFor();
    assert.equal(await sup.page.getByRole('button', { name: /新建部门/ }).count(), 0);
    assert.equal(await sup.page.getByRole('button', { name: /新建小组/ }).count(), 0);
    assert.deepEqual(sup.errors, []);

    // agents are not offered the page in the rail
    const agent = await pageAs(agentCookie);
    await agent.page.goto(srv.url);
    await agent.page.getByRole('button', { name: '会话' }).waitFor();
    assert.equal(await agent.page.getByRole('button', { name: '组织架构' }).count(), 0);
  } finally {
    await browser.close();
    await srv.close();
  }
});

/** Answers the open Popconfirm whose question starts with this text (a closing one may still be in the page). */
async function confirm(page: Page, question: string) {
  const popover = page.locator('.ant-popover:not(.ant-popover-hidden)', { hasText: question }).last();
  await popover.getByRole('button', { name: /确\s*定|OK/ }).click();
  await popover.waitFor({ state: 'hidden' });
}

test('an admin renames a department, moves a group out of it, deletes what is no longer used, and is told why what is in use stays', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const srv = await startTestServer('sqlite');
  try {
    const adminCookie = await srv.login('org-admin2', 'admin');
    const db = srv.server.store.db;
    const dep = await createDepartment(db, '售前部');
    const busyGroup = await createGroup(db, '售前一组', dep.id);
    await createGroup(db, '临时组', dep.id);
    // 售前一组 has a conversation: it can be renamed, not deleted
    const customer = await createCustomer(db, { name: '分组客户' });
    const { conversation } = await openConversation(db, { customerId: customer.id, channel: 'web' });
    await db.updateTable('conversation').set({ group_id: busyGroup.id }).where('id', '=', conversation.id).execute();

    const { page, errors } = await pageWithCookie(browser, srv.url, adminCookie);
    await page.goto(`${srv.url}/org`);
    const depRow = page.locator('.kf-org-departments tbody tr', { hasText: '售前部' });
    await depRow.waitFor();

    await depRow.getByRole('button', { name: '重命名 售前部' }).click();
    const dialog = page.getByRole('dialog', { name: '重命名“售前部”' });
    await dialog.getByLabel('新名称').fill('售前服务部');
    await dialog.getByLabel('新名称').press('Enter');
    await page.getByText('已将“售前部”重命名为“售前服务部”').waitFor();
    await dialog.waitFor({ state: 'hidden' });
    const renamedRow = page.locator('.kf-org-departments tbody tr', { hasText: '售前服务部' });
    await renamedRow.waitFor();

    // the department still holds groups: refused, with the reason
    await renamedRow.getByRole('button', { name: '删除 售前服务部' }).click();
    await confirm(page, '删除部门“售前服务部”？');
    await page.getByText('部门“售前服务部”下还有小组或人员，请先把它们移到其他部门').waitFor();

    // a group in use is refused too
    const busyRow = page.locator('.kf-org-groups tbody tr', { hasText: '售前一组' });
    await busyRow.getByRole('button', { name: '删除 售前一组' }).click();
    await confirm(page, '删除小组“售前一组”？');
    await page.getByText('小组“售前一组”仍被会话或保留规则使用：可以重命名，但不能删除').waitFor();

    // move it out of the department (clear its department), delete the unused one, then the department goes
    await busyRow.getByLabel('所属部门 售前一组').click();
    await busyRow.locator('.ant-select-clear').click();
    await page.getByText('小组“售前一组”已移到“不属于任何部门”').waitFor();
    const spareRow = page.locator('.kf-org-groups tbody tr', { hasText: '临时组' });
    await spareRow.getByRole('button', { name: '删除 临时组' }).click();
    await confirm(page, '删除小组“临时组”？');
    await page.getByText('已删除小组“临时组”').waitFor();
    await spareRow.waitFor({ state: 'detached' });
    await page.locator('.kf-org-departments tbody tr', { hasText: '售前服务部' }).getByRole('button', { name: '删除 售前服务部' }).click();
    await confirm(page, '删除部门“售前服务部”？');
    await page.getByText('已删除部门“售前服务部”').waitFor();
    await page.getByText('还没有部门，先新建一个部门').waitFor();

    // stored and audited
    assert.equal((await db.selectFrom('department').select('id').execute()).length, 0);
    assert.deepEqual(await db.selectFrom('agent_group').select(['name', 'department_id']).execute(), [{ name: '售前一组', department_id: null }]);
    const details = (await listAudit(db, { actor: 'org-admin2', action: 'config.change' })).map((e) => e.detail).reverse();
    assert.deepEqual(details, [{ renamed: { from: '售前部', to: '售前服务部' } }, { moved: { from: dep.id, to: null } }, { deleted: '临时组', members: [] }, { deleted: '售前服务部' }]);
    await page.screenshot({ path: path.join(os.tmpdir(), 'kefu-org-rename-delete.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await srv.close();
  }
});
