import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseAt, freshDatabase, testDialects } from '../../../test/support/databases.ts';
import { openStore } from '../index.ts';

const T = Date.parse('2025-06-01T00:00:00Z');

for (const dialect of testDialects()) {
  test(`an archive written before 013 keeps its read markers and gets a participant row per agent and conversation (${dialect})`, async () => {
    const d = await freshDatabase(dialect);
    try {
      const old = await databaseAt(d, dialect, '012_search_key_in_index');
      await old.insertInto('customer').values({ id: 'cus_old', name: '老客户', created_at: T }).execute();
      await old.insertInto('conversation').values({ id: 'conv_old', customer_id: 'cus_old', channel: 'web', state: 'assigned', created_at: T, last_message_at: T + 3, last_seq: 4, last_hash: 'h4' }).execute();
      // a customer, then agent A twice and agent B once (chains are not checked here)
      const senders: Array<['customer' | 'agent', string]> = [['customer', 'cus_old'], ['agent', 'usr_a'], ['agent', 'usr_a'], ['agent', 'usr_b']];
      await old
        .insertInto('message')
        .values(senders.map(([kind, id], i) => ({ id: `msg_old_${i}`, conversation_id: 'conv_old', seq: i + 1, client_id: `c${i}`, sender_kind: kind, sender_id: id, type: 'text', body: `第 ${i + 1} 条`, created_at: T + i, hash: `h${i + 1}`, search_key: (T + i) * 8 })))
        .execute();
      await old.insertInto('read_marker').values({ user_id: 'usr_a', conversation_id: 'conv_old', last_read_seq: 3 }).execute();
      await old.destroy();

      const store = await openStore({ dataDir: d.dataDir, databaseUrl: d.databaseUrl });
      try {
        const participants = await store.db.selectFrom('conversation_participant').selectAll().orderBy('user_id').execute();
        assert.deepEqual(participants, [
          { conversation_id: 'conv_old', user_id: 'usr_a' },
          { conversation_id: 'conv_old', user_id: 'usr_b' },
        ]);
        assert.deepEqual(await store.db.selectFrom('read_marker').selectAll().execute(), [{ user_id: 'usr_a', conversation_id: 'conv_old', last_read_seq: 3 }]);
      } finally {
        await store.close();
      }
    } finally {
      await d.drop();
    }
  });
}
