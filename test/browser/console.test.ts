import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { call, connected, nextEvent, startTestServer } from '../support/server.ts';

const FIRST = '你好，我的订单还没发货';
const REPLY = '您好，马上为您查询';
const FOLLOW_UP = '好的，订单号是 20240518001';
const OTHER_CUSTOMER = '请问可以开发票吗';
const WHILE_OFFLINE = '在吗？';
const QUEUED_REPLY = '在的，正在帮您核实物流信息';

/** The inbox entry whose preview or name contains the text. */
const inboxItem = (page: Page, text: string) => page.getByRole('listbox').getByRole('option', { name: new RegExp(text) });

/** A blank or failed render is a few KB; a page of Chinese text, avatars and panels is far larger. */
async function screenshot(page: Page, dir: string, name: string, minBytes = 30_000): Promise<string> {
  const file = path.join(dir, name);
  await page.screenshot({ path: file, fullPage: true });
  const size = fs.statSync(file).size;
  assert.ok(size > minBytes, `${name} looks empty (${size} bytes)`);
  return file;
}

test('an agent signs in, answers a new customer live, switches to English and resolves the conversation', { timeout: 120_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  // `npm test` builds the console first; running this file alone still works on a fresh checkout.
  // The server decides at start whether a build exists, so this must come before startTestServer.
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer();
  t.after(() => srv.close());
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-console-'));
  t.diagnostic(`screenshots in ${shots}`);

  const customer = srv.customer();
  await connected(customer);
  const opened = await call(customer, 'message:send', { clientId: randomUUID(), text: FIRST });
  assert.equal(opened.ok, true);
  const conversationId: string = opened.conversationId;
  await srv.login('xiaomei');

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const pageErrors = watchPageErrors(page);
  await page.goto(srv.url);

  await t.test('a wrong password is refused with a clear message', async () => {
    await page.getByRole('heading', { name: '登录客服工作台' }).waitFor();
    await page.getByLabel('账号').fill('xiaomei');
    await page.getByLabel('密码').fill('not-the-password');
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await page.getByRole('alert').filter({ hasText: '账号或密码错误' }).waitFor();
    await screenshot(page, shots, 'login-zh.png', 15_000);
  });

  await t.test('after signing in, the waiting conversation is in the inbox with an unread badge', async () => {
    await page.getByLabel('密码').fill('pw-xiaomei-0123456789');
    await page.getByRole('button', { name: /登\s*录/ }).click();
    const item = inboxItem(page, FIRST);
    await item.waitFor();
    assert.equal(await item.getAttribute('data-unread'), '1');
    assert.equal((await item.locator('.ant-badge-count').textContent())?.trim(), '1');
    await page.getByRole('status').filter({ hasText: '已连接' }).waitFor();
  });

  await t.test('opening it shows the customer message, the typing indicator and the customer panel', async () => {
    await inboxItem(page, FIRST).click();
    const log = page.getByRole('log');
    await log.getByText(FIRST).waitFor();
    assert.equal(await inboxItem(page, FIRST).getAttribute('data-unread'), '0');
    assert.match(page.url(), new RegExp(`/conversations/${conversationId}$`));
    await page.getByRole('complementary').getByText('客户信息').waitFor();

    await call(customer, 'typing', { conversationId, typing: true });
    await page.getByText('对方正在输入…').waitFor();
  });

  await t.test('Shift+Enter adds a line, Enter sends, and the customer receives the reply', async () => {
    const box = page.getByRole('textbox', { name: '回复内容' });
    const agentTyping = nextEvent(customer, 'typing', (e) => e.typing === true && e.sender.kind === 'agent');
    await box.fill('第一行');
    await agentTyping;
    await box.press('Shift+Enter');
    await box.pressSequentially('第二行');
    assert.equal(await box.inputValue(), '第一行\n第二行');

    await box.fill(REPLY);
    const received = nextEvent(customer, 'message:new', (m) => m.sender.kind === 'agent');
    await box.press('Enter');
    const m = await received;
    assert.equal(m.text, REPLY);
    assert.equal(m.conversationId, conversationId);
    assert.equal(await box.inputValue(), '');
    await page.locator('[data-pending-status]').waitFor({ state: 'detached' });
    await page.getByRole('log').locator('.kf-msg.is-agent').filter({ hasText: REPLY }).waitFor();
  });

  await t.test("the customer's next message appears live and is marked read", async () => {
    // seq 3: the first message, the agent's reply, this one
    const read = nextEvent(customer, 'read', (e) => e.conversationId === conversationId && e.reader.kind === 'agent' && e.seq === 3);
    const sent = await call(customer, 'message:send', { conversationId, clientId: randomUUID(), text: FOLLOW_UP });
    assert.equal(sent.ok, true);
    assert.equal(sent.seq, 3);
    await page.getByRole('log').getByText(FOLLOW_UP).waitFor();
    await page.getByText('对方正在输入…').waitFor({ state: 'detached' });
    await read;
    assert.equal(await inboxItem(page, FOLLOW_UP).getAttribute('data-unread'), '0');
  });

  await t.test('after a dropped connection the console catches up on what it missed and sends what was queued', async () => {
    // the server drops the agent sockets; socket.io leaves reconnecting after that to the client
    srv.server.io.of('/agent').disconnectSockets(true);
    await page.getByRole('status').filter({ hasText: '正在重连' }).waitFor();
    const missed = await call(customer, 'message:send', { conversationId, clientId: randomUUID(), text: WHILE_OFFLINE });
    assert.equal(missed.ok, true);

    const box = page.getByRole('textbox', { name: '回复内容' });
    await box.fill(QUEUED_REPLY);
    await box.press('Enter');
    await page.locator('[data-pending-status="sending"]').filter({ hasText: QUEUED_REPLY }).waitFor();

    const delivered = nextEvent(customer, 'message:new', (m) => m.text === QUEUED_REPLY, 10_000);
    await page.getByRole('status').filter({ hasText: '已连接' }).waitFor({ timeout: 10_000 });
    await page.getByRole('log').getByText(WHILE_OFFLINE).waitFor();
    assert.equal((await delivered).sender.kind, 'agent');
    await page.locator('[data-pending-status]').waitFor({ state: 'detached' });
  });

  await t.test('a second customer arrives at the top of the inbox; Alt+Arrow keys move between conversations', async () => {
    const other = srv.customer();
    await connected(other);
    await call(other, 'message:send', { clientId: randomUUID(), text: OTHER_CUSTOMER });
    const newcomer = inboxItem(page, OTHER_CUSTOMER);
    await newcomer.waitFor();
    assert.equal(await newcomer.getAttribute('data-unread'), '1');
    assert.match((await page.getByRole('option').first().textContent()) ?? '', new RegExp(OTHER_CUSTOMER));

    await page.keyboard.press('Alt+ArrowUp');
    await page.getByRole('log').getByText(OTHER_CUSTOMER).waitFor();
    assert.equal(await newcomer.getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Alt+ArrowDown');
    await page.getByRole('log').getByText(FIRST).waitFor();
    assert.equal(await newcomer.getAttribute('data-unread'), '0');

    const file = await screenshot(page, shots, 'console-zh.png');
    t.diagnostic(`Chinese console: ${file}`);
    for (const heading of ['会话', '客户信息', '历史会话']) assert.ok(await page.getByRole('heading', { name: heading }).first().isVisible(), `${heading} is visible`);
    for (const text of [FIRST, REPLY, FOLLOW_UP, WHILE_OFFLINE, QUEUED_REPLY]) assert.ok(await page.getByRole('log').getByText(text).isVisible(), `${text} is visible`);
  });

  await t.test('the language switch turns the console into English and is remembered', async () => {
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('button', { name: 'Resolve' }).waitFor();
    assert.equal(await page.getByRole('button', { name: /解\s*决/ }).count(), 0);
    await page.getByRole('heading', { name: 'Conversations', exact: true }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('kefu.lang')), 'en');

    await page.reload();
    await page.getByRole('button', { name: 'Resolve' }).waitFor();
    // the address names the open conversation, so a reload comes back to it
    await page.getByRole('log').getByText(FOLLOW_UP).waitFor();
  });

  await t.test('resolving closes the conversation and removes it from the inbox', async () => {
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByText('This conversation is resolved; replies are closed').waitFor();
    await inboxItem(page, QUEUED_REPLY).waitFor({ state: 'detached' });
    await inboxItem(page, OTHER_CUSTOMER).waitFor();
    const file = await screenshot(page, shots, 'console-en.png');
    t.diagnostic(`English console: ${file}`);
  });

  assert.deepEqual(pageErrors, []);
});
