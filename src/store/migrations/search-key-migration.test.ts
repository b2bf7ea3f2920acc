import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { databaseAt, freshDatabase, testDialects } from '../../../test/support/databases.ts';
import { openStore, type Database } from '../index.ts';
import { KEY_SLOTS_PER_MS } from '../search-keys.ts';
import { indexText } from '../../archive/tokenizer.ts';
import { searchMessages, searchParamsSchema } from '../../archive/search.ts';
import { chainHash, GENESIS_HASH } from '../../conversations/chain.ts';
import { verifyMessageChains } from '../../governance/integrity.ts';

const T = Date.parse('2025-05-01T00:00:00Z');

for (const dialect of testDialects()) {
  test(`an archive written before search keys is keyed and indexed again by the migration (${dialect})`, async () => {
    const d = await freshDatabase(dialect);
    try {
      // the database as kefu left it before 009: FTS rowid = message.rowid, no search_key
      const old = await databaseAt(d, dialect, '008_checkpoints');
      await old.insertInto('customer').values({ id: 'cus_old', name: '老客户', created_at: T }).execute();
      const bodies = ['我的宽带又断了', '您好，宽带故障已登记', '退款什么时候到账', '好的，谢谢'];
      let prev = GENESIS_HASH;
      // written out of time order, as an import of older history would have been, and two in one millisecond
      const times = [T + 60_000, T + 120_000, T, T];
      const rows = bodies.map((body, i) => {
        const fields = { conversationId: 'conv_old', seq: i + 1, senderKind: 'customer' as const, senderId: null, type: 'text' as const, body, createdAt: times[i]! };
        prev = chainHash(prev, fields);
        return { id: `msg_old_${i}`, conversation_id: 'conv_old', seq: i + 1, client_id: null, sender_kind: 'customer', sender_id: null, type: 'text', body, created_at: times[i], hash: prev };
      });
      await old.insertInto('conversation').values({ id: 'conv_old', customer_id: 'cus_old', channel: 'web', state: 'queued', created_at: T, last_message_at: T + 120_000, last_seq: 4, last_hash: prev }).execute();
      await old.insertInto('message').values(rows).execute();
      for (const r of rows) {
        if (dialect === 'sqlite') await sql`insert into message_fts (rowid, tokens) select rowid, ${indexText(r.body)} from message where id = ${r.id}`.execute(old);
        else await sql`insert into message_search (message_id, tsv) values (${r.id}, to_tsvector('simple', ${indexText(r.body)}))`.execute(old);
      }
      await old.destroy();

      const store = await openStore({ dataDir: d.dataDir, databaseUrl: d.databaseUrl });
      try {
        const keys = await store.db.selectFrom('message').select(['id', 'search_key']).orderBy('search_key').execute();
        assert.deepEqual(
          keys.map((k) => [k.id, Number(k.search_key)]),
          [
            ['msg_old_2', T * KEY_SLOTS_PER_MS],
            ['msg_old_3', T * KEY_SLOTS_PER_MS + 1],
            ['msg_old_0', (T + 60_000) * KEY_SLOTS_PER_MS],
            ['msg_old_1', (T + 120_000) * KEY_SLOTS_PER_MS],
          ],
        );
        const found = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '寬帶' }), 'all');
        assert.deepEqual(found.hits.map((h) => h.messageId), ['msg_old_1', 'msg_old_0'], 'newest first, under the new keys');
        const inFirstMinute = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q: '退款', from: new Date(T).toISOString(), to: new Date(T + 1).toISOString() }), 'all');
        assert.deepEqual(inFirstMinute.hits.map((h) => h.messageId), ['msg_old_2']);
        assert.equal((await verifyMessageChains(store.db as Kysely<Database>)).broken, null, 'the migration changed nothing the chain covers');
        await assert.rejects(sql`update message set search_key = 1 where id = 'msg_old_0'`.execute(store.db), /append-only/, 'the key is guarded like the rest of the row');
      } finally {
        await store.close();
      }
    } finally {
      await d.drop();
    }
  });
}
