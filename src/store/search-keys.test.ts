import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshStore, testDialects } from '../../test/support/databases.ts';
import { MessageAppender } from '../conversations/appender.ts';
import { openConversation } from '../conversations/conversations.ts';
import { createCustomer } from '../customers/index.ts';
import { searchMessages, searchParamsSchema } from '../archive/search.ts';
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely';
import { KEY_SLOTS_PER_MS, readDrift } from './search-keys.ts';
import type { Database } from './schema.ts';
import type { Store } from './index.ts';

const T = Date.parse('2025-03-01T08:00:00Z');

for (const dialect of testDialects()) {
  describe(`search keys (${dialect})`, () => {
    let store: Store & { drop(): Promise<void> };
    let appender: MessageAppender;
    before(async () => {
      store = await freshStore(dialect);
      appender = new MessageAppender(store.db, store.dialect);
    });
    after(async () => store.drop());

    async function write(createdAts: number[], body = '宽带退款') {
      return store.db.transaction().execute(async (trx) => {
        const customer = await createCustomer(trx, { name: '测试客户' });
        const { conversation } = await openConversation(trx, { customerId: customer.id, channel: 'web', createdAt: createdAts[0]! });
        const results = await appender.appendWithin(
          trx,
          createdAts.map((at) => ({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer' as const, id: null }, type: 'text' as const, body, createdAt: at })),
        );
        return results.map((r) => {
          if (r instanceof Error) throw r;
          return r.message.id;
        });
      });
    }
    const keysOf = async (ids: string[]) => {
      const rows = await store.db.selectFrom('message').select(['id', 'search_key']).where('id', 'in', ids).execute();
      return ids.map((id) => Number(rows.find((r) => r.id === id)!.search_key));
    };
    const search = async (q: string, extra: Record<string, unknown> = {}) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q, limit: 7, ...extra, ...(cursor ? { cursor } : {}) }), 'all');
        ids.push(...r.hits.map((h) => h.messageId));
        cursor = r.nextCursor ?? undefined;
      } while (cursor);
      return ids;
    };

    test('a message’s key is its millisecond times the slots, and later messages get larger keys', async () => {
      const ids = await write([T, T + 1, T + 1, T + 5]);
      const keys = await keysOf(ids);
      assert.deepEqual(keys, [T * KEY_SLOTS_PER_MS, (T + 1) * KEY_SLOTS_PER_MS, (T + 1) * KEY_SLOTS_PER_MS + 1, (T + 5) * KEY_SLOTS_PER_MS]);
      assert.equal(await readDrift(store.db), 0);
    });

    test('an import into the past takes free keys between the ones in use and keeps its own time order', async () => {
      const ids = await write([T - 60_000, T + 1, T + 1, T + 1]);
      const keys = await keysOf(ids);
      assert.equal(keys[0], (T - 60_000) * KEY_SLOTS_PER_MS);
      // T+1 already holds slots 0 and 1
      assert.deepEqual(keys.slice(1), [2, 3, 4].map((n) => (T + 1) * KEY_SLOTS_PER_MS + n));
      const all = await store.db.selectFrom('message').select('search_key').execute();
      assert.equal(new Set(all.map((r) => Number(r.search_key))).size, all.length, 'every key is used once');
    });

    test('more messages in one millisecond than it has slots spill over, and time filters stay exact', async () => {
      const at = T + 10_000;
      const crowd = await write(Array.from({ length: 3 * KEY_SLOTS_PER_MS }, () => at), '同一毫秒的消息');
      const later = await write([at + 1], '同一毫秒的消息');
      assert.ok((await readDrift(store.db)) >= 2, 'the spill is recorded');
      const inMs = await search('同一毫秒', { from: new Date(at).toISOString(), to: new Date(at + 1).toISOString() });
      assert.deepEqual([...inMs].sort(), [...crowd].sort(), 'the millisecond holds exactly its own messages');
      const after = await search('同一毫秒', { from: new Date(at + 1).toISOString() });
      assert.deepEqual(after, later);
      // newest first is key order: the later millisecond first, then the crowd in the order it was written
      assert.deepEqual(await search('同一毫秒'), [...later, ...[...crowd].reverse()]);
    });

    test('live messages take the key after the newest even inside a millisecond an earlier batch spilled into', async () => {
      const customer = await createCustomer(store.db, { name: '实时客户' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      const send = (n: number, tag: string) =>
        Promise.all(Array.from({ length: n }, (_, i) => appender.append({ conversationId: conversation.id, clientId: `${tag}${i}`, sender: { kind: 'customer', id: customer.id }, type: 'text', body: `实时批次 ${tag}` })));
      const from = Date.now();
      // two batches, each stamped with one commit time: the first spills several milliseconds ahead
      const first = await send(5 * KEY_SLOTS_PER_MS, 'a');
      const second = await send(5 * KEY_SLOTS_PER_MS, 'b');
      const keys = await keysOf([...first, ...second].map((r) => r.message.id));
      for (let i = 1; i < keys.length; i++) assert.ok(keys[i]! > keys[i - 1]!, 'keys follow the order of the commits');
      [...first, ...second].forEach((r, i) => assert.ok(keys[i]! >= r.message.createdAt * KEY_SLOTS_PER_MS, 'no key before its millisecond'));
      assert.ok((await readDrift(store.db)) >= 4, 'the spill is recorded');
      const found = await search('实时批次', { from: new Date(from).toISOString() });
      assert.equal(found.length, first.length + second.length, 'a time filter still finds every one');
    });

    test('SQLite reads the hits of a newest-first search in key order, without sorting them', { skip: dialect !== 'sqlite' && 'SQLite plan' }, async () => {
      // a second sort term once made SQLite fetch and sort every hit: seconds for a common word at 10M messages
      const seen: CompiledQuery[] = [];
      const logged = new Kysely<Database>({ dialect: new SqliteDialect({ database: store.sqlite! }), log: (e) => void seen.push(e.query) });
      for (const extra of [{}, { from: new Date(T).toISOString(), to: new Date(T + 60_000).toISOString() }, { sort: 'relevance' }]) {
        seen.length = 0;
        await searchMessages(logged, 'sqlite', searchParamsSchema.parse({ q: '宽带', ...extra }), 'all');
        const page = seen.find((q) => /from message_fts as "f"/.test(q.sql) && /order by/i.test(q.sql) && !/count\(/i.test(q.sql));
        assert.ok(page, 'the page query ran');
        const plan = (store.sqlite!.prepare(`explain query plan ${page.sql}`).all(...(page.parameters as unknown[])) as Array<{ detail: string }>).map((r) => r.detail);
        assert.ok(plan.some((d) => d.startsWith('SCAN f VIRTUAL TABLE')), `the FTS index drives the scan: ${plan.join(' | ')}`);
        if (!('sort' in extra)) {
          assert.ok(plan[0]!.startsWith('SCAN f VIRTUAL TABLE'), `the FTS index is the outer loop: ${plan.join(' | ')}`);
          assert.ok(!plan.some((d) => d.includes('TEMP B-TREE')), `no sort of the hits: ${plan.join(' | ')}`);
        }
      }
    });

    test('a filtered count tests only the newest matches and then says "at least"; paging still finds every hit', async () => {
      // two customers' conversations, the word in both, interleaved in time
      const mine: string[] = [];
      const ids = await store.db.transaction().execute(async (trx) => {
        const a = await createCustomer(trx, { name: '甲', externalId: 'count-a' });
        const b = await createCustomer(trx, { name: '乙', externalId: 'count-b' });
        const ca = (await openConversation(trx, { customerId: a.id, channel: 'web', createdAt: T + 100_000 })).conversation.id;
        const cb = (await openConversation(trx, { customerId: b.id, channel: 'web', createdAt: T + 100_000 })).conversation.id;
        const out: string[] = [];
        for (let i = 0; i < 12; i++) {
          const [r] = await appender.appendWithin(trx, [{ conversationId: i % 2 ? ca : cb, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `计数测试 ${i}`, createdAt: T + 100_000 + i * 1000 }]);
          if (r instanceof Error) throw r;
          out.push(r.message.id);
          if (i % 2) mine.push(r.message.id);
        }
        return out;
      });
      assert.equal(ids.length, 12);
      const exact = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '计数测试', customer: 'count-a' }), 'all');
      assert.deepEqual([exact.total, exact.totalIsEstimate], [6, false]);
      // only the newest 5 of the 12 matches are tested: 2 or 3 of them are customer A's
      const bounded = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '计数测试', customer: 'count-a', limit: 2 }), 'all', { matchWorkLimit: 5 });
      assert.equal(bounded.totalIsEstimate, true);
      assert.ok(bounded.total >= 2 && bounded.total <= 6, `a lower bound: ${bounded.total}`);
      const found: string[] = [];
      let cursor: string | undefined;
      do {
        const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '计数测试', customer: 'count-a', limit: 2, ...(cursor ? { cursor } : {}) }), 'all', { matchWorkLimit: 5 });
        found.push(...r.hits.map((h) => h.messageId));
        cursor = r.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(found, [...mine].reverse());
    });

    test('a page tests only the newest matches too: a scope with old hits only gets short pages that go on, never a false "nothing found"', async () => {
      // twelve matches; customer C's three are the oldest
      const at = (i: number) => T + 200_000 + i * 1000;
      const olds = await store.db.transaction().execute(async (trx) => {
        const c = await createCustomer(trx, { name: '丙', externalId: 'walk-c' });
        const d = await createCustomer(trx, { name: '丁', externalId: 'walk-d' });
        const cc = (await openConversation(trx, { customerId: c.id, channel: 'web', createdAt: at(0) })).conversation.id;
        const cd = (await openConversation(trx, { customerId: d.id, channel: 'web', createdAt: at(0) })).conversation.id;
        const out: string[] = [];
        for (let i = 0; i < 12; i++) {
          const [r] = await appender.appendWithin(trx, [{ conversationId: i < 3 ? cc : cd, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `翻页上限 ${i}`, createdAt: at(i) }]);
          if (r instanceof Error) throw r;
          if (i < 3) out.push(r.message.id);
        }
        return out;
      });
      const search = (cursor?: string) => searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '翻页上限', customer: 'walk-c', limit: 2, ...(cursor ? { cursor } : {}) }), 'all', { matchWorkLimit: 5 });
      // page 1 tests matches 11…7 (none is C's) and says the matches from match 6 on are still to search
      const p1 = await search();
      assert.deepEqual(p1.hits, []);
      assert.equal(p1.searchedBackTo, new Date(at(6)).toISOString());
      assert.ok(p1.nextCursor, 'an empty page that stopped at the limit goes on');
      // page 2 tests 6…2 and finds match 2 (short of a full page), page 3 tests 1 and 0 and ends
      const p2 = await search(p1.nextCursor!);
      assert.deepEqual(p2.hits.map((h) => h.messageId), [olds[2]]);
      assert.equal(p2.searchedBackTo, new Date(at(1)).toISOString());
      const p3 = await search(p2.nextCursor!);
      assert.deepEqual(p3.hits.map((h) => h.messageId), [olds[1], olds[0]]);
      assert.deepEqual([p3.nextCursor, p3.searchedBackTo], [null, null]);
      // without a filter to test, every page fills up and nothing is bounded
      const all = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '翻页上限', limit: 2 }), 'all', { matchWorkLimit: 5 });
      assert.equal(all.hits.length, 2);
      assert.equal(all.searchedBackTo, null);
      // by relevance only the newest matches are ranked, and the answer says how far back that was
      const ranked = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '翻页上限', customer: 'walk-c', sort: 'relevance' }), 'all', { matchWorkLimit: 5 });
      assert.deepEqual([ranked.hits.length, ranked.nextCursor, ranked.searchedBackTo], [0, null, new Date(at(6)).toISOString()]);
    });
  });
}
