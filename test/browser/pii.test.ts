/**
 * No personal data in the console for staff without an unmask grant: real-looking Chinese messages with mobile numbers
 * (with and without separators), landlines, ID card numbers, bank card numbers and emails are planted, and every page
 * that shows them — the live conversation view with its inbox, the customer page, the archive search results — is
 * checked to hold none of them, while order numbers, dates and amounts stay readable. Then the agent asks for an unmask
 * grant from the conversation, an admin approves it, 显示原文 shows the original, and the unmask is audited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { SESSION_COOKIE, isValidIdCard, passesLuhn } from '../../src/governance/index.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { api } from '../support/auth.ts';
import { call, connected, nextEvent, startTestServer } from '../support/server.ts';

/** Each message: the personal data in it as written; all carry 联系 so one search finds them all. */
const PLANTED: Array<{ text: string; pii: string[] }> = [
  { text: '你好，我的手机号是13812345678，有问题请联系我', pii: ['13812345678'] },
  { text: '备用号码 139-8765-4321，白天联系不上就打这个', pii: ['139-8765-4321'] },
  { text: '也可以联系家里座机 (021) 6234-5678 或者 010-62345678', pii: ['(021) 6234-5678', '010-62345678'] },
  { text: '实名信息：身份证 11010519491231002X，联系人是我本人', pii: ['11010519491231002X'] },
  { text: '我爱人的身份证是 440305199003074218，需要时联系她', pii: ['440305199003074218'] },
  { text: '退款打到这张卡：6217 0001 2345 6788，或者 6222021234567894，有疑问再联系', pii: ['6217 0001 2345 6788', '6222021234567894'] },
  { text: '发票请发到邮箱 zhang.wei@example.com，收到后联系我', pii: ['zhang.wei@example.com'] },
];
/** Near misses: numbers that are no personal data and must stay readable. */
const NEAR_MISSES = ['202611250001', '2026-11-25', '¥1,299.00', '773012345678901', '12999.50'];
const NEAR_MISS_MESSAGE = `订单号 202611250001，下单日期 2026-11-25，金额 ¥1,299.00，快递单号 773012345678901，请联系仓库`;
const LIVE = { text: '刚换了新号码 +86 186 1234 5678，以后联系这个', pii: ['186 1234 5678', '18612345678'] };
const AMOUNT_MESSAGE = '另一笔订单金额 12999.50 元，麻烦联系财务核对';

/** attributes as a host system stores them: a phone and an ID card number beside values that stay readable */
const ATTRIBUTES = { 备用电话: '13600002222', 配偶身份证: '11010519491231002X', 会员卡号: 'VIP-2026-0088' };
const ATTRIBUTE_PII = ['13600002222'];

const ALL_PII = [...PLANTED.flatMap((p) => p.pii), ...LIVE.pii, ...ATTRIBUTE_PII];
const digitsOf = (s: string) => s.replace(/\D/g, '');
/** separators a page might render a number with; removed before looking for a number's bare digits */
const squeeze = (s: string) => s.replace(/[\s\-()（）+]/g, '');

/** The page's visible text and its markup (attributes such as title too) hold none of the planted personal data. */
async function assertNoPii(page: Page, where: string) {
  const text = await page.evaluate(() => document.body.innerText);
  const html = await page.content();
  const leaks: string[] = [];
  for (const pii of ALL_PII) {
    if (text.includes(pii) || html.includes(pii)) leaks.push(pii);
    const digits = digitsOf(pii);
    if (digits.length >= 11 && (squeeze(text).includes(digits) || squeeze(html).includes(digits))) leaks.push(`${pii} (as digits)`);
  }
  assert.deepEqual(leaks, [], `${where} shows personal data`);
}

async function assertNearMissesVisible(page: Page, where: string) {
  const text = await page.evaluate(() => document.body.innerText);
  for (const n of NEAR_MISSES) assert.ok(text.includes(n), `${where}: "${n}" should stay readable`);
}

test('no personal data on any console page without an unmask grant; 显示原文 with one, audited', { timeout: 240_000 }, async (t) => {
  assert.ok(isValidIdCard('11010519491231002X') && isValidIdCard('440305199003074218'), 'planted ID numbers have valid check characters');
  assert.ok(passesLuhn('6217000123456788') && passesLuhn('6222021234567894'), 'planted card numbers pass the Luhn check');
  const browser = await launchChromium(t);
  if (!browser) return;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer('sqlite');
  t.after(() => srv.close());

  const agentCookie = await srv.login('kefu-li');
  const adminCookie = await srv.login('guanli', 'admin');
  const customer = srv.customer();
  await nextEvent(customer, 'session');
  const send = async (text: string, conversationId?: string) => {
    const ack = await call(customer, 'message:send', { ...(conversationId ? { conversationId } : {}), clientId: randomUUID(), text });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    return ack.conversationId as string;
  };
  // personal data last, so the inbox's preview of the last message holds some too
  const conversationId = await send(NEAR_MISS_MESSAGE);
  await send(AMOUNT_MESSAGE, conversationId);
  for (const p of PLANTED) await send(p.text, conversationId);
  const customerId = (await api(srv, 'GET', `/api/v1/conversations/${conversationId}`, { cookie: agentCookie })).body.conversation.customerId as string;
  // contact details as an integration would store them: masked in the panel until 显示原文
  await srv.server.store.db.updateTable('customer').set({ phone: '13700001111', email: 'li.na@example.cn', attributes: JSON.stringify(ATTRIBUTES) }).where('id', '=', customerId).execute();

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const [name, value] = agentCookie.split('=') as [string, string];
  assert.equal(name, SESSION_COOKIE);
  await context.addCookies([{ name, value, url: srv.url }]);
  const page = await context.newPage();
  const errors = watchPageErrors(page);
  const messages = page.locator('.kf-messages');

  await t.test('the live conversation view and the inbox: masked, also for a message arriving while it is open', async () => {
    await page.goto(`${srv.url}/conversations/${conversationId}`);
    await messages.getByText('202611250001', { exact: false }).waitFor();
    await page.locator('.kf-inbox, [aria-label]').getByText('收到后联系我', { exact: false }).first().waitFor();
    await assertNoPii(page, 'conversation view as loaded');
    const agentSocket = srv.agent(agentCookie);
    await connected(agentSocket);
    await send(LIVE.text, conversationId);
    await messages.getByText('以后联系这个', { exact: false }).waitFor();
    await messages.getByText('186****5678', { exact: false }).waitFor();
    await assertNoPii(page, 'conversation view');
    await assertNearMissesVisible(page, 'conversation view');
    assert.ok((await page.locator('.kf-pii-warning').count()) >= PLANTED.length, 'each message with personal data carries the masked note');
    assert.equal(await page.locator('.kf-unmask').count(), 0, 'no 显示原文 without a grant');
  });

  await t.test('the customer page: masked', async () => {
    await page.goto(`${srv.url}/customers/${customerId}`);
    await page.locator('.kf-transcript').first().getByText('202611250001', { exact: false }).waitFor();
    await page.getByText('以后联系这个', { exact: false }).first().waitFor();
    await assertNoPii(page, 'customer page');
    await assertNearMissesVisible(page, 'customer page');
    // the profile's attributes: personal numbers masked, the rest as written
    await page.getByText('136****2222').first().waitFor();
    await page.getByText('VIP-2026-0088').first().waitFor();
  });

  await t.test('archive search results and snippets: masked, also when searching the number itself', async () => {
    await page.goto(`${srv.url}/archive?q=${encodeURIComponent('联系')}`);
    // every planted message is a hit: the first and the last one sent are both on the page
    await page.getByText('以后联系这个', { exact: false }).first().waitFor();
    await page.getByText('有问题请联系我', { exact: false }).first().waitFor();
    await assertNoPii(page, 'archive results');
    await assertNearMissesVisible(page, 'archive results');
    // the index holds the digits, so the number finds its message; the search box holds the query, so only the hits count
    await page.goto(`${srv.url}/archive?q=13812345678`);
    const hit = page.getByText('有问题请联系我', { exact: false }).first();
    await hit.waitFor();
    const hitText = (await hit.textContent()) ?? '';
    assert.ok(hitText.includes('138****5678') && !hitText.includes('13812345678'), hitText);
  });

  let grantId = '';
  await t.test('the agent asks for 显示原文 from the conversation; the request form says so', async () => {
    await page.goto(`${srv.url}/conversations/${conversationId}`);
    await page.getByRole('button', { name: '申请显示原文' }).click();
    await page.waitForURL((u) => u.pathname === '/grants' && u.searchParams.get('unmask') === '1');
    assert.equal(await page.getByLabel('会话 ID').inputValue(), conversationId);
    assert.equal(await page.getByRole('checkbox', { name: /同时申请显示原文/ }).isChecked(), true);
    await page.getByLabel('申请理由').fill('客户来电要求核对退款银行卡号');
    await page.getByRole('button', { name: /提交申请/ }).click();
    await page.getByText('申请已提交，等待审批').waitFor();
    const row = page.locator('.kf-grants-mine tr[data-grant-id]').first();
    await row.locator('.kf-grant-unmask').waitFor();
    grantId = (await row.getAttribute('data-grant-id'))!;
    const approved = await api(srv, 'POST', `/api/v1/grants/${grantId}/approve`, { cookie: adminCookie, body: {} });
    assert.equal(approved.status, 200);
    assert.equal(approved.body.grant.unmask, true);
  });

  await t.test('with the grant the view is still masked until 显示原文 is clicked; then the original shows, audited', async () => {
    await page.goto(`${srv.url}/conversations/${conversationId}`);
    const show = page.getByRole('button', { name: /显\s*示\s*原\s*文/ });
    await show.waitFor();
    await assertNoPii(page, 'conversation view of a grant holder before 显示原文');
    const panel = page.locator('.kf-customer');
    await panel.getByText('137****1111').waitFor();
    assert.equal(await panel.getByText('13700001111').count(), 0, 'the panel is masked before 显示原文');
    await panel.getByText('136****2222').waitFor();
    assert.equal(await panel.getByText('13600002222').count(), 0, 'the attributes are masked before 显示原文');
    await show.click();
    await messages.getByText('13812345678', { exact: false }).waitFor();
    // the customer's contact details are shown as written too, marked like the messages
    await panel.getByText('13700001111').waitFor();
    await panel.getByText('li.na@example.cn').waitFor();
    await panel.getByText('13600002222').waitFor();
    await panel.getByText('11010519491231002X').waitFor();
    // phone, email and the two attributes that held personal data; the card number was never masked
    assert.equal(await panel.locator('.kf-unmasked-field .is-unmasked').count(), 4);
    assert.equal(await panel.getByText('VIP-2026-0088').count(), 1);
    for (const p of [...PLANTED, LIVE]) await messages.getByText(p.text, { exact: true }).waitFor();
    assert.ok((await page.locator('.kf-pii-warning.is-unmasked').count()) >= PLANTED.length);
    await page.getByRole('button', { name: /隐\s*藏\s*原\s*文/ }).click();
    await messages.getByText('138****5678', { exact: false }).waitFor();
    assert.equal(await messages.getByText('13812345678', { exact: false }).count(), 0);
    await panel.getByText('137****1111').waitFor();
    assert.equal(await panel.getByText('13700001111').count(), 0, 'hidden again in the panel');
    assert.equal(await panel.getByText('13600002222').count(), 0, 'the attributes are hidden again in the panel');

    const audit = await api(srv, 'GET', '/api/v1/audit?action=unmask', { cookie: adminCookie });
    const events = audit.body.events as Array<{ actor: { login: string }; target: { type: string; id: string }; ip: string; detail: { grant: string; messages: number; customerPii: string[] } }>;
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor.login, 'kefu-li');
    assert.deepEqual(events[0]!.target, { type: 'conversation', id: conversationId });
    assert.equal(events[0]!.detail.grant, grantId);
    assert.equal(events[0]!.detail.messages, PLANTED.length + 3);
    assert.deepEqual(events[0]!.detail.customerPii, ['phone', 'email', 'attributes.备用电话', 'attributes.配偶身份证']);
    assert.ok(events[0]!.ip);
  });

  await t.test('the customer page: 显示原文 shows the profile and the conversations the grant covers as written, audited', async () => {
    await page.goto(`${srv.url}/customers/${customerId}`);
    const show = page.getByRole('button', { name: /显\s*示\s*原\s*文/ });
    await show.waitFor();
    const transcript = page.locator(`.kf-transcript[data-conversation-id="${conversationId}"]`);
    await transcript.getByText('有问题请联系我', { exact: false }).waitFor();
    await assertNoPii(page, 'customer page of a grant holder before 显示原文');
    await show.click();
    const profile = page.locator('.kf-profile');
    await profile.getByText('13700001111').waitFor();
    await profile.getByText('13600002222').waitFor();
    await profile.getByText('li.na@example.cn').waitFor();
    // phone, email and the two attributes that held personal data
    assert.equal(await profile.locator('.kf-unmasked-field .is-unmasked').count(), 4);
    for (const p of [...PLANTED, LIVE]) await transcript.getByText(p.text, { exact: false }).first().waitFor();
    assert.ok((await transcript.locator('.kf-unmasked-field .is-unmasked').count()) >= PLANTED.length + 1);
    await page.getByRole('button', { name: /隐\s*藏\s*原\s*文/ }).click();
    await transcript.getByText('138****5678', { exact: false }).waitFor();
    await profile.getByText('137****1111').waitFor();
    await assertNoPii(page, 'customer page after 隐藏原文');

    // one more unmask event: the conversation the grant covers, shown from the customer page
    const audit = await api(srv, 'GET', '/api/v1/audit?action=unmask', { cookie: adminCookie });
    const events = audit.body.events as Array<{ actor: { login: string }; target: { type: string; id: string }; detail: { grant: string; customerPii: string[] } }>;
    assert.equal(events.length, 2);
    assert.equal(events[0]!.actor.login, 'kefu-li');
    assert.deepEqual(events[0]!.target, { type: 'conversation', id: conversationId });
    assert.equal(events[0]!.detail.grant, grantId);
  });

  assert.deepEqual(errors, []);
});
