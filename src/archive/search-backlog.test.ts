import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { freshDatabase } from '../../test/support/databases.ts';
import { openStore, type Store } from '../store/index.ts';
import { openConversation } from '../conversations/index.ts';
import { writeMessageBatch, type AppendInput } from '../conversations/append-batch.ts';
import { createCustomer } from '../customers/index.ts';
import { SearchBacklog, indexMissed, type UnindexedMessage } from './search-backlog.ts';
import { engineQueryFor, searchMessages, searchParamsSchema } from './search.ts';
import { countInIndex } from '../store/dialect/search.ts';

async function withStore(fn: (store: Store) => Promise<void>) {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  try {
    await fn(store);
  } finally {
    await store.close();
    await d.drop();
  }
}

const found = async (store: Store, q: string) => (await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ q }), 'all')).hits.map((h) => h.body).sort();
const watermark = async (store: Store) => Number((await store.db.selectFrom('search_index_state').select('value').where('name', '=', 'indexed_through').executeTakeFirstOrThrow()).value);

/** commits messages as the writer thread does, leaving their index entries to the caller */
async function commitUnindexed(store: Store, inputs: AppendInput[]): Promise<UnindexedMessage[]> {
  const unindexed: UnindexedMessage[] = [];
  await store.db.transaction().execute((trx) => writeMessageBatch(trx, 'sqlite', inputs, unindexed));
  return unindexed;
}

async function conversationOf(store: Store) {
  const customer = await createCustomer(store.db, { name: '索引补写' });
  return (await openConversation(store.db, { customerId: customer.id, channel: 'web' })).conversation;
}

test('a committed message is not searchable until its backlog is flushed; the flush indexes it and moves the watermark', async () => {
  await withStore(async (store) => {
    const c = await conversationOf(store);
    const backlog = new SearchBacklog();
    backlog.add(await commitUnindexed(store, [{ conversationId: c.id, clientId: 'a', sender: { kind: 'customer', id: c.customerId }, type: 'text', body: '我的快递单号丢了' }]));
    assert.equal(backlog.size, 1);
    assert.deepEqual(await found(store, '快递'), []);
    assert.equal(await backlog.flush(store.db, 'sqlite'), 1);
    assert.equal(backlog.size, 0);
    assert.deepEqual(await found(store, '快递'), ['我的快递单号丢了']);
    const key = Number((await store.db.selectFrom('message').select('search_key').executeTakeFirstOrThrow()).search_key);
    assert.equal(await watermark(store), key);
  });
});

test('after a crash, indexMissed indexes what was committed but not indexed, once, and leaves purged and indexed messages alone', async () => {
  await withStore(async (store) => {
    const c = await conversationOf(store);
    const before = await watermark(store);
    // committed by a writer that died before its backlog was flushed
    await commitUnindexed(store, [
      { conversationId: c.id, clientId: 'a', sender: { kind: 'customer', id: c.customerId }, type: 'text', body: '发票抬头写错了' },
      { conversationId: c.id, clientId: 'b', sender: { kind: 'agent', id: null }, type: 'text', body: '发票可以重开' },
      { conversationId: c.id, clientId: 'c', sender: { kind: 'customer', id: c.customerId }, type: 'text', body: '发票寄到公司' },
    ]);
    // one of them was emptied by a retention purge meanwhile
    await sql`update message set purged_at = 1, body = '' where client_id = 'c'`.execute(store.db);
    // and a later message was indexed with its commit (an import)
    await store.db.transaction().execute((trx) => writeMessageBatch(trx, 'sqlite', [{ conversationId: c.id, clientId: 'd', sender: { kind: 'customer', id: c.customerId }, type: 'text', body: '发票收到了' }]));
    assert.deepEqual(await found(store, '发票'), ['发票收到了']);
    assert.equal(await watermark(store), before, 'nothing moved the watermark yet');

    assert.equal(await indexMissed(store.db), 2);
    assert.deepEqual(await found(store, '发票'), ['发票可以重开', '发票抬头写错了', '发票收到了'].sort());
    assert.equal(await countInIndex(store.db, 'sqlite', engineQueryFor('sqlite', '发票')!, {}, 100), 3, 'no entry written twice');
    const top = Number((await store.db.selectFrom('message').select((eb) => eb.fn.max('search_key').as('k')).executeTakeFirstOrThrow()).k);
    assert.equal(await watermark(store), top);
    assert.equal(await indexMissed(store.db), 0, 'a second run finds nothing to do');
  });
});

test('a backlog whose flush fails keeps its messages for the next flush', async () => {
  await withStore(async (store) => {
    const c = await conversationOf(store);
    const backlog = new SearchBacklog();
    backlog.add(await commitUnindexed(store, [{ conversationId: c.id, clientId: 'a', sender: { kind: 'customer', id: c.customerId }, type: 'text', body: '退款进度怎么查' }]));
    await sql`create trigger refuse_watermark before update on search_index_state begin select raise(abort, 'watermark refused'); end`.execute(store.db);
    await assert.rejects(backlog.flush(store.db, 'sqlite'), /watermark refused/);
    assert.equal(backlog.size, 1);
    assert.deepEqual(await found(store, '退款'), [], 'the failed flush wrote nothing');
    await sql`drop trigger refuse_watermark`.execute(store.db);
    assert.equal(await backlog.flush(store.db, 'sqlite'), 1);
    assert.deepEqual(await found(store, '退款'), ['退款进度怎么查']);
  });
});
