import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { databaseAt, freshDatabase } from '../../../test/support/databases.ts';
import { openStore } from '../index.ts';
import { indexText } from '../../archive/tokenizer.ts';
import { searchMessages, searchParamsSchema } from '../../archive/search.ts';

const T = Date.parse('2025-06-01T00:00:00Z');

test('an archive indexed before 015 is indexed again without the prefix index; every search finds what it found (sqlite)', async () => {
  const d = await freshDatabase('sqlite');
  try {
    const old = await databaseAt(d, 'sqlite', '014_search_index_watermark');
    await old.insertInto('customer').values({ id: 'cus_old', name: '老客户', created_at: T }).execute();
    await old.insertInto('conversation').values({ id: 'conv_old', customer_id: 'cus_old', channel: 'web', state: 'assigned', created_at: T, last_message_at: T, last_seq: 0, last_hash: 'h' }).execute();
    // more than one chunk of the migration (2,000), a purged message and an event that the index must not hold
    const bodies = Array.from({ length: 4500 }, (_, i) => (i % 3 === 0 ? `退款单 ${100000 + i} 已处理` : i % 3 === 1 ? `流量包第${i}个月` : `thanks for the refund ${i}`));
    const rows = bodies.map((body, i) => ({ id: `msg_${String(i).padStart(5, '0')}`, conversation_id: 'conv_old', seq: i + 1, client_id: null, sender_kind: 'customer', sender_id: 'cus_old', type: i === 7 ? 'event' : 'text', body, created_at: T + i, hash: `h${i}`, search_key: (T + i) * 8, purged_at: i === 9 ? T + 10_000 : null }));
    for (let i = 0; i < rows.length; i += 500) await old.insertInto('message').values(rows.slice(i, i + 500).map((r) => ({ ...r, body: r.purged_at ? '' : r.body }))).execute();
    for (const r of rows) if (r.type !== 'event' && !r.purged_at) await sql`insert into message_fts (rowid, tokens) values (${r.search_key}, ${indexText(r.body)})`.execute(old);
    const before = (await sql<{ sql: string }>`select sql from sqlite_master where name = 'message_fts'`.execute(old)).rows[0]!.sql;
    assert.match(before, /prefix='5'/);
    await old.destroy();

    const store = await openStore({ dataDir: d.dataDir });
    try {
      const after = (await sql<{ sql: string }>`select sql from sqlite_master where name = 'message_fts'`.execute(store.db)).rows[0]!.sql;
      assert.doesNotMatch(after, /prefix/);
      const count = async (q: string) => (await searchMessages(store.db, 'sqlite', searchParamsSchema.parse({ q, limit: 1 }), 'all')).total;
      // one character (a prefix query now walked without the prefix index), words, digits and their parts, English
      assert.equal(await count('退'), 1500 - 1, 'the purged message among them (i = 9) is not indexed');
      assert.equal(await count('流量'), 1500 - 1, 'nor the event (i = 7)');
      assert.equal(await count('refund'), 1500);
      assert.equal(await count('100003'), 1);
      assert.equal(await count('0003'), 5, 'digits anywhere in a number: 100003, 100030, 100033, 100036, 100039');
      assert.equal(await count('第4个月'), 1);
      const { value } = await store.db.selectFrom('search_index_state').select('value').where('name', '=', 'indexed_through').executeTakeFirstOrThrow();
      assert.equal(Number(value), (T + 4499) * 8, 'the watermark stands at the newest message');
    } finally {
      await store.close();
    }
  } finally {
    await d.drop();
  }
});
