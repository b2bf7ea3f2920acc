import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, call, connected, nextEvent, type TestServer } from '../../test/support/server.ts';

describe('personal data in what staff see', () => {
  let t: TestServer;
  let cookie: string;
  before(async () => {
    t = await startTestServer('sqlite');
    cookie = await t.login('pii-agent');
  });
  after(async () => t.close());

  test('staff get phone, ID and email masked and told what was found; the customer sees their own words', async () => {
    const agent = t.agent(cookie);
    await connected(agent);
    const customer = t.customer();
    await nextEvent(customer, 'session');
    const text = '我的手机 138-0013-8000，身份证 11010519491231002X，邮箱 zhang.san@example.com，订单 202611250001';
    const agentSees = nextEvent(agent, 'message:new', (m) => m.text.includes('订单'));
    const customerSees = nextEvent(customer, 'message:new', (m) => m.text.includes('订单'));
    const ack = await call(customer, 'message:send', { clientId: 'pii-1', text });
    const live = await agentSees;
    for (const leak of ['138-0013-8000', '13800138000', '11010519491231002X', 'zhang.san@example.com']) assert.ok(!live.text.includes(leak), `live view leaks ${leak}`);
    assert.ok(live.text.includes('202611250001'), 'order numbers stay visible');
    assert.deepEqual([...live.pii].sort(), ['email', 'id_card', 'mobile']);
    assert.equal((await customerSees).text, text);

    const rest = await (await fetch(`${t.url}/api/v1/conversations/${ack.conversationId}/messages`, { headers: { cookie } })).json();
    assert.ok(!JSON.stringify(rest).includes('11010519491231002X'));
    const sync = await call(agent, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 0 });
    assert.ok(!JSON.stringify(sync).includes('zhang.san@example.com'));
    const own = await call(customer, 'conversation:sync', { conversationId: ack.conversationId, afterSeq: 0 });
    assert.equal(own.messages[0].text, text);

    // the index holds the digits: searching the phone number finds the message, and the snippet shows it masked
    const found = await (await fetch(`${t.url}/api/v1/search?q=13800138000`, { headers: { cookie } })).json();
    assert.equal(found.hits.length, 1);
    assert.ok(!found.hits[0].snippet.includes('0013'));
    assert.match(found.hits[0].snippet, /202611250001/);
  });
});
