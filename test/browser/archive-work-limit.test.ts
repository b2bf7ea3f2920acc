/**
 * A narrow scope in the console's search: the server tests only its work limit of matches per request
 * (KEFU_SEARCH_MATCH_LIMIT, here 10), the console asks on by itself a few times, then offers 继续搜索更早的消息 instead
 * of a false "nothing found", and the button finds the agent's own old message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Socket } from 'socket.io-client';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { AUTO_CONTINUE } from '../../web/src/hooks/useArchiveSearch.ts';
import { launchChromium, pageWithCookie } from '../support/browser.ts';
import { call, connected, startTestServer } from '../support/server.ts';

const LIMIT = 10;
/** matches outside the new agent's scope, all newer than theirs: more than the console's own rounds test */
const OTHERS = LIMIT * (AUTO_CONTINUE + 1) + 5;

async function send(socket: Socket, text: string, conversationId?: string): Promise<string> {
  const ack = await call(socket, 'message:send', { ...(conversationId ? { conversationId } : {}), clientId: randomUUID(), text });
  assert.equal(ack.ok, true, `send failed: ${JSON.stringify(ack)}`);
  return ack.conversationId;
}

test('a search in a narrow scope stops at the work limit, says so, and searches older messages on request', { timeout: 180_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer('sqlite', { env: { KEFU_SEARCH_MATCH_LIMIT: String(LIMIT) } });
  t.after(() => srv.close());

  // the new agent's one conversation comes first; a colleague's conversation then holds every newer match
  const newbieCookie = await srv.login('newbie');
  const newbie = srv.agent(newbieCookie);
  const colleague = srv.agent(await srv.login('laowang'));
  await Promise.all([connected(newbie), connected(colleague)]);
  const first = srv.customer();
  await connected(first);
  const own = await send(first, '我的物流单号一直没有更新');
  await send(newbie, '我帮您查一下物流', own);
  const second = srv.customer();
  await connected(second);
  const other = await send(second, '物流问题 1');
  await send(colleague, '您好，我来处理', other);
  for (let i = 2; i <= OTHERS; i++) await send(second, `物流问题 ${i}`, other);

  const { page, errors } = await pageWithCookie(browser, srv.url, newbieCookie);
  await page.goto(`${srv.url}/archive?q=${encodeURIComponent('物流')}`);
  const partial = page.locator('.kf-archive-state[data-empty="partial"]');
  await partial.waitFor();
  assert.match((await partial.textContent()) ?? '', /之后的消息中没有匹配的聊天记录/);
  assert.equal(await page.locator('.kf-archive-state[data-empty="true"]').count(), 0, 'not the plain "nothing found"');

  await page.getByRole('button', { name: '继续搜索更早的消息' }).click();
  const hits = page.locator('ul.kf-hits > li.kf-hit');
  await hits.first().waitFor();
  assert.deepEqual(await hits.evaluateAll((els) => els.map((e) => e.getAttribute('data-conversation-id'))), [own, own], 'both of the own conversation’s messages, nothing of the colleague’s');
  await page.getByText('已显示全部结果').waitFor();
  assert.deepEqual(errors, []);
});
