/**
 * The customer widget in a real browser (Debian's Chromium driven by playwright-core) against a real kefu server:
 * the demo host page embeds /widget.js, a customer chats with an agent on a socket.io /agent connection,
 * and the history survives a reload and a dropped connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startTestServer, call, nextEvent, connected } from '../support/server.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { ROOT_DIR, WIDGET_DIST } from '../../src/server/app.ts';
import { buildWidget } from '../../src/server/build.ts';

/** the bundle is rebuilt (esbuild, well under a second) when a widget source is newer than it */
async function ensureWidgetBuilt(): Promise<void> {
  const out = path.join(WIDGET_DIST, 'widget.js');
  const built = fs.existsSync(out) ? fs.statSync(out).mtimeMs : 0;
  const src = path.join(ROOT_DIR, 'widget/src');
  const newest = Math.max(...fs.readdirSync(src).map((f) => fs.statSync(path.join(src, f)).mtimeMs));
  if (newest > built) await buildWidget();
}

const W = 'kefu-widget'; // playwright's CSS engine pierces the widget's open shadow root
const bubbles = (page: Page) => page.locator(`${W} .list .row .bubble`).allTextContents();
/** waits for the panel's open animation, so screenshots and boxes show the final layout */
const settled = (page: Page) => page.locator(`${W} .panel`).evaluate((el) => Promise.all(el.getAnimations({ subtree: true }).filter((a) => a.effect?.getTiming().iterations !== Infinity).map((a) => a.finished)).then(() => undefined));
const showsMessage = (page: Page, kind: string, text: string) =>
  page.locator(`${W} .row.${kind}:not(.sending):not(.failed) .bubble`, { hasText: text }).waitFor({ state: 'visible', timeout: 10000 });

test('widget: chat with an agent, history after reload, gap fill after a drop, unread badge', { timeout: 120000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  await ensureWidgetBuilt();
  const server = await startTestServer();
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-widget-'));
  try {
    const agent = server.agent(await server.login('agent-zhang'));
    await connected(agent);

    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const pageErrors = watchPageErrors(page);
    await page.goto(`${server.url}/demo`);

    // the launcher, in Chinese by default; a new visitor does not connect before opening the widget
    const launcher = page.locator(`${W} button.launcher`);
    await launcher.waitFor({ state: 'visible' });
    assert.equal(await launcher.getAttribute('aria-label'), '在线客服');
    assert.equal(await page.locator(`${W} button.launcher span:not(.badge)`).textContent(), '在线客服');
    assert.equal(await page.evaluate(() => localStorage.getItem('kefu.visitorToken')), null);
    await launcher.click();
    const input = page.locator(`${W} textarea`);
    await input.waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.querySelector('kefu-widget')!.shadowRoot!.activeElement?.tagName), 'TEXTAREA', 'the input has focus on open');
    await page.locator(`${W} .status`, { hasText: '已连接' }).waitFor();

    // customer → agent
    const arrived = nextEvent(agent, 'message:new', (m: any) => m.sender.kind === 'customer' && m.text === '你好', 10000);
    await input.fill('你好');
    await input.press('Enter');
    const hello = await arrived;
    assert.equal(await input.inputValue(), '', 'Enter sends and clears the input');
    await showsMessage(page, 'customer', '你好');
    const stored = await page.evaluate(() => ({ token: localStorage.getItem('kefu.visitorToken'), conversation: localStorage.getItem('kefu.conversationId') }));
    assert.ok(stored.token, 'the visitor token is kept in localStorage');
    assert.equal(stored.conversation, hello.conversationId, 'the conversation is remembered');

    // the customer typing reaches the agent; the agent typing shows in the widget
    const customerTyping = nextEvent(agent, 'typing', (p: any) => p.conversationId === hello.conversationId && p.typing === true);
    await input.pressSequentially('在吗');
    await customerTyping;
    await input.press('Shift+Enter');
    await input.pressSequentially('？');
    assert.equal(await input.inputValue(), '在吗\n？', 'Shift+Enter adds a new line instead of sending');
    await input.fill('');
    await call(agent, 'typing', { conversationId: hello.conversationId, typing: true });
    await page.locator(`${W} .typing[data-on=true]`, { hasText: '客服正在输入…' }).waitFor();

    // agent → customer; the open panel reports it as read
    const read = nextEvent(agent, 'read', (p: any) => p.conversationId === hello.conversationId && p.seq >= 2, 10000);
    const reply = '您好，我是客服小张，请问有什么可以帮您？';
    const ack = await call(agent, 'message:send', { conversationId: hello.conversationId, clientId: 'agent-reply-1', text: reply });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    await showsMessage(page, 'agent', reply);
    await page.locator(`${W} .typing[data-on=false]`).waitFor({ state: 'attached' });
    await read;
    assert.deepEqual(await bubbles(page), ['你好', reply]);
    await settled(page);
    await page.screenshot({ path: path.join(shots, '1-chat.png') });

    // reload: a fresh page shows the same conversation again, in order
    await page.reload();
    await launcher.waitFor({ state: 'visible' });
    await launcher.click();
    await showsMessage(page, 'agent', reply);
    assert.deepEqual(await bubbles(page), ['你好', reply]);

    // a dropped connection: what the agent sent meanwhile is synced, what the customer typed is sent after reconnecting
    const customerDropped = page.locator(`${W} .status`, { hasText: '连接断开，正在重连…' }).waitFor();
    server.server.io.of('/customer').disconnectSockets();
    await customerDropped;
    const missed = '这条消息是在断线期间发送的';
    assert.equal((await call(agent, 'message:send', { conversationId: hello.conversationId, clientId: 'agent-reply-2', text: missed })).ok, true);
    const offline = nextEvent(agent, 'message:new', (m: any) => m.text === '断线时发的消息', 15000);
    await input.fill('断线时发的消息');
    await input.press('Enter');
    await page.locator(`${W} .row.sending`, { hasText: '发送中…' }).waitFor({ timeout: 2000 });
    await page.locator(`${W} .status`, { hasText: '已连接' }).waitFor({ timeout: 15000 });
    const late = await offline;
    assert.equal(late.conversationId, hello.conversationId);
    await showsMessage(page, 'customer', '断线时发的消息');
    await showsMessage(page, 'agent', missed);
    assert.deepEqual(await bubbles(page), ['你好', reply, missed, '断线时发的消息']);
    assert.deepEqual(await page.locator(`${W} .row`).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq')))), [1, 2, 3, 4]);

    // closed panel: an agent message raises the unread badge; opening clears it
    await input.press('Escape');
    await page.locator(`${W} .panel`).waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.querySelector('kefu-widget')!.shadowRoot!.activeElement?.className), 'launcher', 'focus returns to the launcher');
    assert.equal((await call(agent, 'message:send', { conversationId: hello.conversationId, clientId: 'agent-reply-3', text: '还在吗？' })).ok, true);
    const badge = page.locator(`${W} .badge`);
    await badge.waitFor({ state: 'visible' });
    assert.equal(await badge.textContent(), '1');
    await page.screenshot({ path: path.join(shots, '2-unread.png') });
    await launcher.click();
    await showsMessage(page, 'agent', '还在吗？');
    assert.equal(await badge.isHidden(), true);
    await settled(page);
    await page.screenshot({ path: path.join(shots, '3-reopened.png') });

    // a message typed while offline survives a reload (kept in localStorage) and is stored once
    const unsent = '刷新前还没发出去的消息';
    const sentOnce = nextEvent(agent, 'message:new', (m: any) => m.text === unsent, 15000);
    const droppedAgain = page.locator(`${W} .status`, { hasText: '连接断开，正在重连…' }).waitFor();
    server.server.io.of('/customer').disconnectSockets();
    await droppedAgain;
    await input.fill(unsent);
    await input.press('Enter');
    assert.match((await page.evaluate(() => localStorage.getItem('kefu.pending'))) ?? '', new RegExp(unsent));
    await page.reload();
    await launcher.click();
    await sentOnce;
    await showsMessage(page, 'customer', unsent);
    assert.equal(await page.evaluate(() => localStorage.getItem('kefu.pending')), null);
    assert.deepEqual(await bubbles(page), ['你好', reply, missed, '断线时发的消息', '还在吗？', unsent]);

    // a phone: the panel fills the screen
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const mobile = await phone.newPage();
    await mobile.goto(`${server.url}/demo`);
    await mobile.locator(`${W} button.launcher`).click();
    await settled(mobile);
    const box = await mobile.locator(`${W} .panel`).boundingBox();
    assert.deepEqual(box && [box.x, box.y, box.width, box.height], [0, 0, 390, 844]);
    await mobile.screenshot({ path: path.join(shots, '4-mobile.png') });
    await phone.close();

    // an English browser gets English
    const english = await browser.newContext({ locale: 'en-US' });
    const en = await english.newPage();
    await en.goto(`${server.url}/demo`);
    assert.equal(await en.locator(`${W} button.launcher`).getAttribute('aria-label'), 'Chat with us');
    await english.close();

    assert.deepEqual(pageErrors, []);
    t.diagnostic(`screenshots in ${shots}`);
    await context.close();
  } finally {
    await server.close(); // the browser is closed by launchChromium's t.after
  }
});

test('widget: embedded on another origin, it talks to the origin of its own script; data-lang="en"', { timeout: 60000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  await ensureWidgetBuilt();
  const server = await startTestServer();
  try {
    const agent = server.agent(await server.login('agent-li'));
    await connected(agent);
    const context = await browser.newContext({ locale: 'zh-CN' });
    // a host page on a different origin (its own loopback server, another port), whose CSS tries hard to break the widget
    const shopHtml = `<!doctype html><html><head><meta charset="utf-8"><style>* { font-size: 40px !important; color: red !important; display: inline !important } button { display: none !important }</style></head>
<body><p>another shop</p><script src="${server.url}/widget.js" data-lang="en" async></script></body></html>`;
    const shopServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopHtml));
    await new Promise<void>((resolve) => shopServer.listen(0, '127.0.0.1', resolve));
    t.after(() => shopServer.close());
    const shop = `http://127.0.0.1:${(shopServer.address() as AddressInfo).port}/`;
    // the server refuses the first attempt of one message, so the widget's failure and retry path runs
    const attempts: string[] = [];
    server.server.io.of('/customer').on('connection', (socket) => {
      socket.use((packet, next) => {
        const [event, payload, ack] = packet as [string, { text?: string; clientId: string }, unknown];
        if (event === 'message:send' && payload?.text === 'refuse me once') {
          attempts.push(payload.clientId);
          if (attempts.length === 1 && typeof ack === 'function') return ack({ ok: false, error: 'refused by the test', code: 'test_refusal' });
        }
        next();
      });
    });
    const page = await context.newPage();
    await page.goto(shop);
    const launcher = page.locator(`${W} button.launcher`);
    await launcher.waitFor({ state: 'visible' });
    assert.equal(await launcher.getAttribute('aria-label'), 'Chat with us');
    await launcher.click();
    await page.locator(`${W} .status`, { hasText: 'Connected' }).waitFor();
    const arrived = nextEvent(agent, 'message:new', (m: any) => m.text === 'hello from another site', 10000);
    await page.locator(`${W} textarea`).fill('hello from another site');
    await page.locator(`${W} button.send`).click();
    const m = await arrived;
    await showsMessage(page, 'customer', 'hello from another site');
    assert.equal(await page.evaluate(() => localStorage.getItem('kefu.conversationId')), m.conversationId);
    const fontSize = await page.locator(`${W} .bubble`).first().evaluate((el) => getComputedStyle(el).fontSize);
    assert.equal(fontSize, '14px', 'host-page CSS does not reach into the widget');

    await page.locator(`${W} textarea`).fill('refuse me once');
    await page.locator(`${W} textarea`).press('Enter');
    const failed = page.locator(`${W} .row.failed`, { hasText: 'refuse me once' });
    await failed.locator('.err', { hasText: 'Not sent' }).waitFor();
    await settled(page);
    const shot = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-widget-')), 'cross-origin.png');
    await page.screenshot({ path: shot });
    t.diagnostic(`screenshot ${shot}`);
    const delivered = nextEvent(agent, 'message:new', (x: any) => x.text === 'refuse me once', 10000);
    await failed.locator('button.retry', { hasText: 'Retry' }).click();
    await delivered;
    await showsMessage(page, 'customer', 'refuse me once');
    assert.equal(attempts.length, 2);
    assert.equal(attempts[0], attempts[1], 'a retry reuses the clientId');
    assert.deepEqual(await bubbles(page), ['hello from another site', 'refuse me once']);
    await context.close();
  } finally {
    await server.close(); // the browser is closed by launchChromium's t.after
  }
});
