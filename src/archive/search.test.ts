import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDialects, freshStore } from '../../test/support/databases.ts';
import { loadCorpus } from '../../test/support/corpus.ts';
import { createCustomer } from '../customers/index.ts';
import { createUser } from '../governance/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { normalize } from './normalize.ts';
import { searchMessages, searchParamsSchema, SearchError } from './search.ts';

const zh = loadCorpus('zh');
const en = loadCorpus('en');
const DAY = 86_400_000;
const BASE = Date.parse('2025-01-01T00:00:00Z');

type Store = Awaited<ReturnType<typeof freshStore>>;

function generatedConversations(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `gen-${i}`,
    turns: [
      { role: 'customer' as const, text: `My broadband is down again, I want a refund (ticket ${1000 + i})` },
      { role: 'agent' as const, text: `您好，宽带故障已登记，退款会在三个工作日内处理，工单 ${1000 + i}` },
    ],
  }));
}

/** everything a search finds, following the cursor to the end */
async function allHits(store: Store, params: Record<string, unknown>) {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ ...params, limit: 200, cursor }), 'all');
    ids.push(...r.hits.map((h) => h.messageId));
    if (!r.nextCursor) return { ids, total: r.total };
    cursor = r.nextCursor;
  }
}

for (const dialect of testDialects()) {
  describe(`archive search (${dialect})`, () => {
    let store: Store;
    let appender: MessageAppender;
    const corpusMessages: Array<{ id: string; text: string }> = [];

    before(async () => {
      store = await freshStore(dialect);
      appender = new MessageAppender(store.db, store.dialect);
      // the corpus, conversations spread over two years, one message a minute within a conversation
      // without ../shared/data the corpus tests skip; the others run on a small archive written here
      const conversations = zh || en ? [...(zh ?? []), ...(en ?? []).map((c) => ({ ...c, id: `en-${c.id}` }))] : generatedConversations(200);
      for (let i = 0; i < conversations.length; i += 250) {
        await store.db.transaction().execute(async (trx) => {
          for (const [k, c] of conversations.slice(i, i + 250).entries()) {
            const n = i + k;
            const customer = await createCustomer(trx, { name: `客户${n}` });
            const start = BASE + (n % 730) * DAY;
            const { conversation } = await openConversation(trx, { customerId: customer.id, channel: 'weibo', externalId: c.id, createdAt: start });
            const results = await appender.appendWithin(
              trx,
              c.turns.map((t, j) => ({ conversationId: conversation.id, clientId: null, sender: { kind: t.role, id: null }, type: 'text' as const, body: t.text, createdAt: start + j * 60_000 })),
            );
            results.forEach((r, j) => {
              if (r instanceof Error) throw r;
              corpusMessages.push({ id: r.message.id, text: c.turns[j]!.text });
            });
          }
        });
      }
    });
    after(async () => store.drop());

    test('Chinese and number queries find exactly what a normalised substring scan finds', { skip: !zh && 'corpus absent' }, async () => {
      const queries = ['宽带', '流量', '投诉', '退款', '发票', '發票', '寬帶', '质量', '質量', '信号 差', '网速 慢', '退款 订单', '流量 扣费', '没收到', '收到', '客服', '的', '话费 流量 套餐', '１００８６', '10086', '4008', '中国联通', '已经', '锤子手机', '谢谢', '不存在的词语组合'];
      for (const q of queries) {
        const words = normalize(q).split(/\s+/).filter(Boolean);
        // one space or hyphen between digit groups keeps them one number (138-1234-5678), as documented for the tokenizer
        const folded = (t: string) => normalize(t).replace(/(?<=[0-9])[ -](?=[0-9])/g, '');
        const expected = corpusMessages.filter((m) => words.every((w) => (/^[0-9]+$/.test(w) ? folded(m.text) : normalize(m.text)).includes(w))).map((m) => m.id).sort();
        const { ids, total } = await allHits(store, { q });
        assert.deepEqual([...ids].sort(), expected, `query ${q}`);
        assert.equal(total, Math.min(expected.length, 10_000), `total of ${q}`);
      }
    });

    test('English words match by word prefix, case-insensitive', { skip: !en && 'corpus absent' }, async () => {
      for (const q of ['refund', 'Signal', 'broadband complaint', 'iphon', 'REFUND order']) {
        const words = normalize(q).split(/\s+/);
        const re = words.map((w) => new RegExp(`(^|[^a-z])${w}`));
        const expected = corpusMessages.filter((m) => re.every((r) => r.test(normalize(m.text)))).map((m) => m.id).sort();
        const { ids } = await allHits(store, { q });
        assert.deepEqual([...ids].sort(), expected, `query ${q}`);
        assert.ok(expected.length > 0 || q === 'iphon');
      }
    });

    test('results are newest first, paged by cursor without repeats, and the time filter holds', async () => {
      const from = new Date(BASE + 100 * DAY).toISOString();
      const to = new Date(BASE + 130 * DAY).toISOString();
      const seen = new Set<string>();
      let last = Infinity;
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: zh ? '流量' : 'refund', from, to, limit: 7, cursor }), 'all');
        for (const h of r.hits) {
          const t = Date.parse(h.createdAt);
          assert.ok(t <= last, 'newest first');
          assert.ok(t >= Date.parse(from) && t < Date.parse(to), 'inside the time filter');
          assert.ok(!seen.has(h.messageId), 'no repeats across pages');
          seen.add(h.messageId);
          last = t;
        }
        cursor = r.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      assert.ok(pages > 1, 'the result spans several pages');
    });

    test('later pages answer the first page\'s total, carried by the cursor, instead of counting again', async () => {
      const q = zh ? '流量' : 'refund';
      const p1 = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, limit: 7 }), 'all');
      assert.ok(p1.nextCursor && p1.total > 7);
      // a match that arrives meanwhile is in a new search's count, not in the paging one's
      const customer = await createCustomer(store.db, { name: '计数客户' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: zh ? '流量又超了' : 'refund again' });
      const p2 = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, limit: 7, cursor: p1.nextCursor }), 'all');
      assert.equal(p2.total, p1.total);
      assert.equal(p2.totalIsEstimate, p1.totalIsEstimate);
      assert.equal((await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, limit: 7 }), 'all')).total, p1.total + 1);
      // a cursor is checked like any input: wrong types or unknown fields are refused, not used
      const forged = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
      for (const c of [{ k: 'x' }, { t: -1 }, { k: 5, drop: true }, [1, 2]]) {
        await assert.rejects(searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, cursor: forged(c) }), 'all'), (e: Error) => e instanceof SearchError && e.code === 'invalid_cursor', JSON.stringify(c));
      }
    });

    test('hits carry a snippet with the query highlighted, traditional query on simplified text too', async () => {
      const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: zh ? '寬帶' : 'broadband', limit: 5 }), 'all');
      assert.ok(r.hits.length > 0);
      for (const h of r.hits) {
        assert.ok(h.highlights.length > 0, `highlight in ${h.snippet}`);
        const [s, e] = h.highlights[0]!;
        assert.equal(normalize(h.snippet.slice(s, e)), zh ? '宽带' : 'broadband');
      }
    });

    test('filters: customer, agent, channel, tag, conversation', async () => {
      const customer = await createCustomer(store.db, { name: '筛选客户', externalId: 'crm-42' });
      const agent = await createUser(store.db, { login: `filter-agent-${dialect}`, password: 'long-enough-pw', role: 'agent' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'email' });
      await store.db.updateTable('conversation').set({ assignee_id: agent.id, group_id: 'grp_after_sales' }).where('id', '=', conversation.id).execute();
      await store.db.insertInto('conversation_tag').values({ conversation_id: conversation.id, tag: '投诉' }).execute();
      await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: '订单 202611250001 的退款还没到账' });
      const only = async (p: Record<string, unknown>) => (await allHits(store, { q: '退款', ...p })).ids;
      for (const p of [{ customer: customer.id }, { customer: 'crm-42' }, { agent: agent.id }, { agent: `filter-agent-${dialect}` }, { channel: 'email' }, { tag: '投诉' }, { group: 'grp_after_sales' }, { conversation: conversation.id }]) {
        assert.equal((await only(p)).length, 1, JSON.stringify(p));
      }
      assert.equal((await allHits(store, { q: '9999', customer: 'crm-42' })).ids.length, 0, '9999 is not in 202611250001');
      assert.equal((await allHits(store, { q: '0001', customer: 'crm-42' })).ids.length, 1, 'the last digits of an order number find it');
      assert.equal((await allHits(store, { q: '', customer: 'crm-42' })).ids.length, 1, 'an empty query lists by filters');
      await assert.rejects(searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '退款', agent: 'nobody-here' }), 'all'), SearchError);
    });

    test('relevance order and bad input', async () => {
      const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: zh ? '退款' : 'refund', sort: 'relevance', limit: 5 }), 'all');
      assert.ok(r.hits.length > 0);
      const page2 = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: zh ? '退款' : 'refund', sort: 'relevance', limit: 5, cursor: r.nextCursor ?? undefined }), 'all');
      assert.equal(page2.hits.filter((h) => r.hits.some((x) => x.messageId === h.messageId)).length, 0);
      await assert.rejects(searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '退款', cursor: 'garbage' }), 'all'), SearchError);
      assert.equal(searchParamsSchema.safeParse({ q: 'x'.repeat(201) }).success, false);
      assert.equal(searchParamsSchema.safeParse({ q: 'x', from: 'yesterday' }).success, false);
      const punct = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '！？。' }), 'all');
      assert.equal(punct.total, 0);
      // query syntax of either engine is plain text to us
      for (const q of ['"', 'AND OR NOT', 'a:*', "'; drop table message; --", 'NEAR(a b)', '<->', '(']) {
        await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q }), 'all');
      }
    });
  });
}
