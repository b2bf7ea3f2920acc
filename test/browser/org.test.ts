import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, pageWithCookie } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';
import { listAudit } from '../../src/governance/index.ts';

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
