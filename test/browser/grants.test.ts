/**
 * The grant flow in the console: an auditor is refused a sensitive conversation and asks for access from there, an
 * admin approves on the 访问申请 page, the auditor reads it, the grant expires, the auditor is refused again — and the
 * audit trail holds each step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { SESSION_COOKIE } from '../../src/governance/index.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { call, nextEvent, startTestServer } from '../support/server.ts';

const COMPLAINT = '我是你们的VIP客户，上周的订单 880012 一直没有发货，我要投诉';
const REASON = 'VIP 客户投诉升级，复核处理过程';

test('grant flow: an auditor asks, an admin approves, the auditor reads until the grant expires; all audited', { timeout: 180_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer('sqlite');
  t.after(() => srv.close());
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-grants-'));
  t.diagnostic(`screenshots in ${shots}`);
  const db = srv.server.store.db;

  // ---- seed: a VIP customer's complaint, and the two staff (auditors and admins enrol in 2FA inside login()) ----
  const customer = srv.customer();
  await nextEvent(customer, 'session');
  const ack = await call(customer, 'message:send', { clientId: randomUUID(), text: COMPLAINT });
  const conversationId: string = ack.conversationId;
  const { customer_id: customerId } = await db.selectFrom('conversation').select('customer_id').where('id', '=', conversationId).executeTakeFirstOrThrow();
  await db.updateTable('customer').set({ vip_level: 2 }).where('id', '=', customerId).execute();
  const auditorCookie = await srv.login('shenji', 'auditor');
  const adminCookie = await srv.login('guanli', 'admin');

  // the sessions come from the API (the sign-in page, with its second factor, has tests of its own)
  const pageAs = async (b: Browser, cookie: string): Promise<{ page: Page; errors: string[] }> => {
    const context = await b.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
    const [name, value] = cookie.split('=') as [string, string];
    assert.equal(name, SESSION_COOKIE);
    await context.addCookies([{ name, value, url: srv.url }]);
    const page = await context.newPage();
    return { page, errors: watchPageErrors(page) };
  };
  const auditor = await pageAs(browser, auditorCookie);
  const admin = await pageAs(browser, adminCookie);
  const shot = async (page: Page, name: string) => {
    const file = path.join(shots, name);
    await page.screenshot({ path: file });
    assert.ok(fs.statSync(file).size > 20_000, `${name} looks empty`);
    t.diagnostic(`${name}: ${file}`);
  };
  const refusal = (page: Page) => page.getByRole('alert').filter({ hasText: '需要申请访问权限' });
  let grantId = '';

  await t.test('the auditor opening the sensitive conversation is told to request access', async () => {
    await auditor.page.goto(`${srv.url}/conversations/${conversationId}`);
    await refusal(auditor.page).waitFor();
    assert.equal(await auditor.page.getByText(COMPLAINT).count(), 0);
    await shot(auditor.page, 'grant-required.png');
  });

  await t.test('the button pre-fills a request for that conversation; the auditor submits it', async () => {
    await refusal(auditor.page).getByRole('button', { name: '申请访问' }).click();
    await auditor.page.waitForURL((u) => u.pathname === '/grants' && u.searchParams.get('ids') === conversationId);
    await auditor.page.getByRole('heading', { name: '访问申请', level: 1 }).waitFor();
    assert.equal(await auditor.page.getByRole('button', { name: '访问申请' }).getAttribute('aria-current'), 'page');
    assert.equal(await auditor.page.getByLabel('会话 ID').inputValue(), conversationId);
    await auditor.page.getByLabel('申请理由').fill(REASON);
    await auditor.page.getByRole('button', { name: /提交申请/ }).click();
    await auditor.page.getByText('申请已提交，等待审批').waitFor();
    const row = auditor.page.locator('.kf-grants-mine tr[data-grant-id]').first();
    await row.locator('.kf-grant-state[data-state="requested"]').waitFor();
    grantId = (await row.getAttribute('data-grant-id'))!;
    assert.match(grantId, /^grt_/);
    await shot(auditor.page, 'grant-requested.png');
  });

  await t.test('the admin sees it pending and approves it', async () => {
    await admin.page.goto(`${srv.url}/grants`);
    const row = admin.page.locator(`.kf-grants-pending tr[data-grant-id="${grantId}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /shenji/);
    assert.match((await row.textContent()) ?? '', new RegExp(REASON));
    assert.match((await row.textContent()) ?? '', /1 个会话/);
    await shot(admin.page, 'grant-pending.png');
    await row.getByRole('button', { name: /批\s*准/ }).click();
    await admin.page.locator('.ant-popconfirm').getByRole('button', { name: /确\s*定|OK/ }).click();
    await admin.page.getByText('已批准', { exact: true }).first().waitFor();
    await admin.page.locator(`.kf-grants-pending tr[data-grant-id="${grantId}"]`).waitFor({ state: 'detached' });
  });

  await t.test('the auditor reads the conversation through the grant', async () => {
    await auditor.page.goto(`${srv.url}/grants`);
    const row = auditor.page.locator(`.kf-grants-mine tr[data-grant-id="${grantId}"]`);
    await row.locator('.kf-grant-state[data-state="approved"]').waitFor();
    await row.getByRole('link', { name: conversationId }).click();
    await auditor.page.waitForURL((u) => u.pathname === `/conversations/${conversationId}`);
    await auditor.page.locator('.kf-messages').getByText(COMPLAINT).waitFor();
    assert.equal(await refusal(auditor.page).count(), 0);
    await shot(auditor.page, 'grant-reading.png');
  });

  await t.test('once the grant has expired the auditor is refused again, and the page says expired', async () => {
    await db.updateTable('access_grant').set({ expires_at: Date.now() - 1000 }).where('id', '=', grantId).execute();
    await auditor.page.reload();
    await refusal(auditor.page).waitFor();
    assert.equal(await auditor.page.getByText(COMPLAINT).count(), 0);
    await auditor.page.goto(`${srv.url}/grants`);
    await auditor.page.locator(`.kf-grants-mine tr[data-grant-id="${grantId}"] .kf-grant-state[data-state="expired"]`).waitFor();
  });

  await t.test('the audit trail holds the request, the approval, the read under the grant and the refusals', async () => {
    const res = await fetch(`${srv.url}/api/v1/audit?limit=500`, { headers: { cookie: adminCookie } });
    assert.equal(res.status, 200);
    const events = ((await res.json()) as { events: Array<{ id: number; action: string; actor: { login: string }; target: { type: string; id: string } | null; detail: Record<string, unknown> }> }).events.reverse();
    const step = (action: string, login: string, pick: (e: (typeof events)[number]) => boolean = () => true) => events.findIndex((e) => e.action === action && e.actor.login === login && pick(e));
    const onConversation = (e: (typeof events)[number]) => e.target?.id === conversationId;
    const steps = {
      refusedBefore: step('view.refused', 'shenji', onConversation),
      request: step('grant.request', 'shenji', (e) => e.target?.id === grantId),
      approve: step('grant.approve', 'guanli', (e) => e.target?.id === grantId),
      read: step('view', 'shenji', (e) => onConversation(e) && e.detail.grant === grantId),
      refusedAfter: events.length - 1 - [...events].reverse().findIndex((e) => e.action === 'view.refused' && e.actor.login === 'shenji' && onConversation(e)),
    };
    for (const [name, at] of Object.entries(steps)) assert.ok(at >= 0, `no audit event for ${name}`);
    assert.ok(steps.refusedBefore < steps.request && steps.request < steps.approve && steps.approve < steps.read && steps.read < steps.refusedAfter, JSON.stringify(steps));
  });

  assert.deepEqual(auditor.errors.filter((e) => !/403|Forbidden/.test(e)), []);
  assert.deepEqual(admin.errors, []);
});
