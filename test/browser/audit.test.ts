import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, pageWithCookie } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';

test('auditors browse and filter the audit trail in the console; agents are told it is not for them', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const srv = await startTestServer('sqlite');
  try {
    const agentCookie = await srv.login('audited-agent');
    const auditorCookie = await srv.login('the-auditor', 'auditor');
    await fetch(`${srv.url}/api/v1/search?q=${encodeURIComponent('退款')}`, { headers: { cookie: agentCookie } });

    const pageAs = (cookie: string) => pageWithCookie(browser, srv.url, cookie);

    const { page, errors } = await pageAs(auditorCookie);
    await page.goto(`${srv.url}/audit`);
    await page.getByRole('heading', { name: '审计日志' }).waitFor();
    await page.getByText('audited-agent (agent)').first().waitFor();
    const rows = page.locator('.kf-audit tbody tr');
    assert.ok((await rows.count()) >= 3, 'logins and the search are listed');
    await page.getByText('{"q":"退款"', { exact: false }).waitFor();

    await page.getByLabel('操作人').fill('audited-agent');
    await page.getByRole('button', { name: /筛\s*选/ }).click();
    await page.waitForFunction(() => [...document.querySelectorAll('.kf-audit tbody tr')].every((r) => r.textContent?.includes('audited-agent') || r.textContent?.includes('没有')));
    await page.screenshot({ path: path.join(os.tmpdir(), 'kefu-audit-page.png') });
    assert.deepEqual(errors, []);

    const agent = await pageAs(agentCookie);
    await agent.page.goto(`${srv.url}/audit`);
    await agent.page.getByText('只有审计员和管理员可以查看审计日志').waitFor();
  } finally {
    await browser.close();
    await srv.close();
  }
});
