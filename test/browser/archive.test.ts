import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Socket } from 'socket.io-client';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { CSRF, call, connected, startTestServer } from '../support/server.ts';

// conversation A1 (customer A, resolved): a refund, an order number, an invoice in traditional characters, then a long tail
const REFUND = '你好，我想申请退款';
const ORDER = '订单号是 202611250001，麻烦尽快处理';
const INVOICE = '另外我需要開發票，抬頭寫公司名稱';
const HOSTILE = '<img src=x onerror=alert(1)> 退款进度怎么样了';
const FILLER = (i: number) => `补充说明第${i}条：物流信息还没有更新`;
const FILLERS = 30;
// conversation A2 (customer A, open): a later visit, with an image
const SECOND_VISIT = '上次的问题已经解决了，谢谢';
// conversation B (customer B, open): English
const REFUND_EN = 'Hi, I want a refund for my order please';
const REFUND_EN_REPLY = 'Refund approved, you will receive it in 3 days';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

async function screenshot(page: Page, dir: string, name: string, minBytes = 30_000): Promise<string> {
  const file = path.join(dir, name);
  await page.screenshot({ path: file, fullPage: false });
  const size = fs.statSync(file).size;
  assert.ok(size > minBytes, `${name} looks empty (${size} bytes)`);
  return file;
}

async function send(socket: Socket, text: string, conversationId?: string): Promise<{ conversationId: string; seq: number }> {
  const ack = await call(socket, 'message:send', { ...(conversationId ? { conversationId } : {}), clientId: randomUUID(), text });
  assert.equal(ack.ok, true, `send failed: ${JSON.stringify(ack)}`);
  return ack;
}

test('chat history search, the conversation at a hit, and the customer page', { timeout: 180_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer('sqlite');
  t.after(() => srv.close());
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-archive-'));
  t.diagnostic(`screenshots in ${shots}`);

  // ---- seed ----
  const cookie = await srv.login('xiaomei');
  const agent = srv.agent(cookie);
  await connected(agent);
  const api = async (method: string, url: string) => {
    const res = await fetch(`${srv.url}${url}`, { method, headers: { cookie, ...CSRF } });
    assert.equal(res.status, 200, `${method} ${url}: ${res.status}`);
    return res.json() as Promise<any>;
  };

  const customerA = srv.customer();
  await connected(customerA);
  const a1 = (await send(customerA, REFUND)).conversationId;
  await send(agent, '好的，请提供一下订单号', a1);
  await send(customerA, ORDER, a1);
  const invoiceSeq = (await send(customerA, INVOICE, a1)).seq;
  await send(customerA, HOSTILE, a1);
  for (let i = 1; i <= FILLERS; i++) await send(customerA, FILLER(i), a1);
  const lastA1Seq = (await send(agent, '收到，已经为您登记', a1)).seq;
  await api('POST', `/api/v1/conversations/${a1}/resolve`);
  const customerAId: string = (await api('GET', `/api/v1/conversations/${a1}`)).conversation.customerId;
  const customerAName: string = (await api('GET', `/api/v1/customers/${customerAId}`)).customer.name;

  // a later visit of the same customer opens a second conversation; it has an image
  const a2 = (await send(customerA, SECOND_VISIT)).conversationId;
  assert.notEqual(a2, a1);
  await srv.server.appender.append({ conversationId: a2, clientId: randomUUID(), sender: { kind: 'customer', id: customerAId }, type: 'image', body: 'receipt-scan.jpg' });

  const customerB = srv.customer();
  await connected(customerB);
  const b = (await send(customerB, REFUND_EN)).conversationId;
  await send(agent, REFUND_EN_REPLY, b);
  const customerBId: string = (await api('GET', `/api/v1/conversations/${b}`)).conversation.customerId;

  // ---- the console ----
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const pageErrors = watchPageErrors(page);
  await page.goto(srv.url);
  await page.getByLabel('账号').fill('xiaomei');
  await page.getByLabel('密码').fill('pw-xiaomei-0123456789');
  await page.getByRole('button', { name: /登\s*录/ }).click();
  await page.getByRole('status').filter({ hasText: '已连接' }).waitFor();

  const queryBox = page.getByRole('textbox', { name: '搜索关键词' });
  const total = page.locator('.kf-archive-total');
  const hits = page.locator('ul.kf-hits > li.kf-hit');
  const searchFor = async (q: string) => {
    await queryBox.fill(q);
    await queryBox.press('Enter');
    await page.waitForURL((u) => u.pathname === '/archive' && (u.searchParams.get('q') ?? '') === q.trim());
  };

  await t.test('the rail opens 聊天记录查询 with its empty search form', async () => {
    await page.getByRole('button', { name: '聊天记录查询' }).click();
    await page.getByRole('heading', { name: '聊天记录查询', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/archive');
    await page.getByText('搜索聊天记录').waitFor();
    assert.equal(await page.getByRole('button', { name: '聊天记录查询' }).getAttribute('aria-current'), 'page');
  });

  await t.test('searching 发票 finds the message written 發票, with the hit marked', async () => {
    await searchFor('发票');
    const mark = page.locator('.kf-hit mark').filter({ hasText: '發票' });
    await mark.first().waitFor();
    assert.equal(await mark.first().textContent(), '發票');
    assert.equal((await total.textContent())?.trim(), '共 1 条');
    const hit = hits.first();
    assert.equal(await hit.getAttribute('data-conversation-id'), a1);
    assert.equal(await hit.getAttribute('data-seq'), String(invoiceSeq));
    assert.match((await hit.locator('.kf-hit-time').textContent()) ?? '', TIMESTAMP);
    assert.equal((await hit.locator('.kf-hit-customer').textContent())?.trim(), customerAName);
    assert.equal((await hit.locator('.kf-sender-tag').textContent())?.trim(), '客户');
    assert.match((await hit.locator('.kf-hit-snippet').textContent()) ?? '', /開發票/);
    const file = await screenshot(page, shots, 'archive-invoice.png');
    t.diagnostic(`search 发票: ${file}`);
  });

  await t.test('a reload keeps the search, and Ctrl+K puts the cursor back in the query box', async () => {
    await page.reload();
    await page.locator('.kf-hit mark').filter({ hasText: '發票' }).first().waitFor();
    assert.equal(await queryBox.inputValue(), '发票');
    await page.locator('.kf-page-head h1').click();
    await page.keyboard.press('Control+k');
    assert.equal(await queryBox.evaluate((el) => el === document.activeElement), true);
  });

  await t.test('the last four digits of an order number find it', async () => {
    await searchFor('0001');
    const mark = page.locator('.kf-hit mark').filter({ hasText: '0001' });
    await mark.first().waitFor();
    assert.equal((await total.textContent())?.trim(), '共 1 条');
    assert.match((await hits.first().locator('.kf-hit-snippet').textContent()) ?? '', /202611250001/);
  });

  await t.test('every word of a multi-word query must occur; each is marked', async () => {
    await searchFor('refund order');
    // the previous search also had one hit: wait for this search's marks, not just its count
    await hits.first().locator('mark').filter({ hasText: /order/i }).waitFor();
    await total.filter({ hasText: '共 1 条' }).waitFor();
    const marks = await hits.first().locator('mark').allTextContents();
    assert.deepEqual(marks.map((m) => m.toLowerCase()), ['refund', 'order']);
    assert.equal(await hits.first().getAttribute('data-conversation-id'), b);

    await searchFor('refund');
    await total.filter({ hasText: '共 2 条' }).waitFor();
  });

  await t.test('a message containing markup is shown as text, never as HTML', async () => {
    await searchFor('退款进度');
    const hit = hits.filter({ hasText: '<img src=x' });
    await hit.first().waitFor();
    assert.equal(await hit.first().locator('.kf-hit-snippet img').count(), 0);
  });

  await t.test('a query without hits shows the empty state', async () => {
    await searchFor('量子纠缠');
    await page.locator('[data-empty="true"]').getByText('没有找到匹配的聊天记录').waitFor();
    assert.equal(await hits.count(), 0);
  });

  await t.test('more than a page of hits pages on with 加载更多', async () => {
    await searchFor('补充说明');
    await total.filter({ hasText: `共 ${FILLERS} 条` }).waitFor();
    assert.equal(await hits.count(), 20);
    await page.getByRole('button', { name: '加载更多' }).click();
    await page.getByText('已显示全部结果').waitFor();
    assert.equal(await hits.count(), FILLERS);
    // newest first
    assert.match((await hits.first().textContent()) ?? '', new RegExp(`第${FILLERS}条`));
  });

  await t.test('sort, date presets and filters go into the address; a bad filter shows the error with a retry', async () => {
    await searchFor('退款');
    await total.filter({ hasText: '共 2 条' }).waitFor();
    await page.locator('.kf-archive-bar').getByText('相关度').click();
    await page.waitForURL((u) => u.searchParams.get('sort') === 'relevance');
    await total.filter({ hasText: '共 2 条' }).waitFor();

    await page.getByPlaceholder('开始日期').click();
    await page.locator('.ant-picker-presets').getByText('今天', { exact: true }).click();
    await page.waitForURL((u) => u.searchParams.has('from') && u.searchParams.has('to'));
    await total.filter({ hasText: '共 2 条' }).waitFor();
    await page.keyboard.press('Escape');

    // no query, only a customer: that customer's messages by time
    await page.getByRole('button', { name: '更多筛选' }).click();
    await queryBox.fill('');
    const customerFilter = page.getByRole('textbox', { name: '客户', exact: true });
    await customerFilter.fill(customerBId);
    await customerFilter.press('Enter');
    await page.waitForURL((u) => u.searchParams.get('customer') === customerBId && !u.searchParams.has('q'));
    await total.filter({ hasText: '共 2 条' }).waitFor();
    assert.deepEqual(await hits.locator('.kf-hit-snippet').allTextContents(), [REFUND_EN_REPLY, REFUND_EN]);

    const agentFilter = page.getByRole('textbox', { name: '客服', exact: true });
    await agentFilter.fill('nobody-by-that-name');
    await agentFilter.press('Enter');
    const alert = page.getByRole('alert').filter({ hasText: '搜索失败' });
    await alert.waitFor();
    await screenshot(page, shots, 'archive-error.png', 20_000);
    await agentFilter.fill('');
    await page.getByRole('button', { name: /重\s*试/ }).waitFor();
    await page.getByRole('button', { name: /搜\s*索/ }).click();
    await total.filter({ hasText: '共 2 条' }).waitFor();
  });

  await t.test('a hit opens its (resolved) conversation scrolled to the message, highlighted', async () => {
    await page.goto(`${srv.url}/archive?q=${encodeURIComponent('发票')}`);
    await hits.first().locator('mark').first().waitFor();
    await hits.first().locator('.kf-hit-snippet').click();
    await page.waitForURL((u) => u.pathname === `/conversations/${a1}` && u.searchParams.get('seq') === String(invoiceSeq));
    const row = page.locator(`.kf-messages [data-seq="${invoiceSeq}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-focused'), 'true');
    await page.getByText('此会话已解决，无法继续回复').waitFor();
    // boxes, not page.evaluate with a helper: tsx names inner functions with a helper the page does not have
    const box = (await page.locator('.kf-messages').boundingBox())!;
    const inView = async (seq: number) => {
      const r = (await page.locator(`.kf-messages [data-seq="${seq}"]`).boundingBox())!;
      return r.y >= box.y - 1 && r.y + r.height <= box.y + box.height + 1;
    };
    const view = { target: await inView(invoiceSeq), last: await inView(lastA1Seq), flash: ((await row.getAttribute('class')) ?? '').includes('is-flash') };
    assert.deepEqual(view, { target: true, last: false, flash: true });
    const file = await screenshot(page, shots, 'conversation-at-hit.png');
    t.diagnostic(`conversation at the hit: ${file}`);
  });

  await t.test("the customer page lists every conversation of the customer with its messages and timestamps", async () => {
    await page.getByRole('complementary').getByRole('link', { name: /客户详情/ }).click();
    await page.waitForURL((u) => u.pathname === `/customers/${customerAId}`);
    await page.getByRole('heading', { name: customerAName, level: 1 }).waitFor();
    const profile = page.getByRole('region', { name: '客户资料' });
    for (const label of ['姓名', '客户 ID', '外部 ID', '电话', '邮箱', 'VIP 等级', '创建时间']) await profile.getByText(label, { exact: true }).waitFor();

    const transcripts = page.locator('article.kf-transcript');
    assert.equal(await transcripts.count(), 2);
    // newest first: the second visit, then the resolved one
    assert.equal(await transcripts.nth(0).getAttribute('data-conversation-id'), a2);
    assert.equal(await transcripts.nth(1).getAttribute('data-conversation-id'), a1);
    await transcripts.nth(0).getByText(SECOND_VISIT).waitFor();
    const image = transcripts.nth(0).locator('.kf-line[data-type="image"]');
    await image.waitFor();
    assert.equal((await image.locator('.kf-type-tag').textContent())?.trim(), '图片');
    assert.match((await image.textContent()) ?? '', /receipt-scan\.jpg/);

    const a1Lines = transcripts.nth(1).locator('.kf-line');
    await a1Lines.filter({ hasText: INVOICE }).waitFor();
    assert.equal(await a1Lines.count(), lastA1Seq);
    for (const time of await a1Lines.locator('time').allTextContents()) assert.match(time, TIMESTAMP);
    assert.deepEqual(await transcripts.nth(1).locator('.kf-sender-tag').evaluateAll((els) => [...new Set(els.map((e) => e.textContent))].sort()), ['客户', '客服'].sort());
    await transcripts.nth(1).getByText('已解决').first().waitFor();
    const file = await screenshot(page, shots, 'customer-page.png');
    t.diagnostic(`customer page: ${file}`);

    await transcripts.nth(0).getByRole('link', { name: /在会话中打开/ }).click();
    await page.waitForURL((u) => u.pathname === `/conversations/${a2}`);
    await page.getByRole('log').getByText(SECOND_VISIT).waitFor();
  });

  await t.test('a search hit links to its customer; the customer section lists recently viewed customers', async () => {
    await page.goto(`${srv.url}/archive?q=refund&sort=relevance`);
    await hits.first().waitFor();
    await hits.first().locator('.kf-hit-customer').click();
    await page.waitForURL((u) => u.pathname === `/customers/${customerBId}`);
    await page.locator('article.kf-transcript').first().getByText(REFUND_EN).waitFor();

    await page.getByRole('button', { name: '客户', exact: true }).click();
    await page.waitForURL((u) => u.pathname === '/customers');
    const recent = page.getByRole('region', { name: '最近查看' });
    await recent.getByRole('link', { name: new RegExp(customerAName) }).waitFor();

    // Back returns to the customer page, the rail's 会话 to the inbox
    await page.goBack();
    await page.waitForURL((u) => u.pathname === `/customers/${customerBId}`);
    await page.getByRole('button', { name: '会话', exact: true }).click();
    await page.getByRole('listbox', { name: '会话列表' }).waitFor();
  });

  await t.test('the search page speaks English too', async () => {
    await page.goto(`${srv.url}/archive?q=${encodeURIComponent('发票')}`);
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Chat history', level: 1 }).waitFor();
    await total.filter({ hasText: 'Results: 1' }).waitFor();
    assert.equal((await hits.first().locator('.kf-sender-tag').textContent())?.trim(), 'Customer');
    await screenshot(page, shots, 'archive-en.png');
    await page.getByRole('button', { name: '中文' }).click();
  });

  assert.deepEqual(pageErrors, []);
});
