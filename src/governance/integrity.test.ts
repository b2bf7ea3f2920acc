import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { sql } from 'kysely';
import { testDialects, freshDatabase } from '../../test/support/databases.ts';
import { openStore, type Store } from '../store/index.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { AuditLog, LOCAL_OPERATOR } from './audit.ts';
import { verifyAuditChain } from './audit.ts';
import { createCheckpoint, verifyCheckpoints, verifyMessageChains } from './integrity.ts';
import { GENESIS_HASH, chainHash } from '../conversations/chain.ts';

const root = path.resolve(import.meta.dirname, '../..');

async function dropTriggers(store: Store) {
  if (store.dialect === 'sqlite') {
    for (const t of ['message_append_only_update', 'message_append_only_delete', 'audit_event_append_only_update', 'audit_event_append_only_delete']) await sql.raw(`drop trigger if exists ${t}`).execute(store.db);
  } else {
    await sql`drop trigger if exists message_append_only on message`.execute(store.db);
    await sql`drop trigger if exists audit_event_append_only on audit_event`.execute(store.db);
    // someone rewriting history also removes what would stop them
    await sql`alter table message_search drop constraint if exists message_search_message_id_fkey`.execute(store.db);
  }
}

for (const dialect of testDialects()) {
  describe(`tamper evidence (${dialect})`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let store: Store;
    let appender: MessageAppender;
    before(async () => {
      db = await freshDatabase(dialect);
      store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      appender = new MessageAppender(store.db, store.dialect);
    });
    after(async () => {
      await store.close();
      await db.drop();
    });

    async function conversationWith(n: number) {
      const customer = await createCustomer(store.db, { name: '取证客户' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      for (let i = 1; i <= n; i++) await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: i % 2 ? 'customer' : 'agent', id: null }, type: 'text', body: `第 ${i} 条：退款金额 ${i * 100} 元` });
      return conversation.id;
    }

    test('triggers refuse UPDATE and DELETE of messages and audit events', async () => {
      const id = await conversationWith(2);
      await new AuditLog(store.db, store.dialect).record({ actor: LOCAL_OPERATOR, action: 'search', query: { q: '退款' } });
      await assert.rejects(sql`update message set body = 'changed' where conversation_id = ${id}`.execute(store.db), /append-only/);
      await assert.rejects(sql`delete from message where conversation_id = ${id}`.execute(store.db), /append-only/);
      await assert.rejects(sql`update audit_event set actor_login = 'someone'`.execute(store.db), /append-only/);
      await assert.rejects(sql`delete from audit_event`.execute(store.db), /append-only/);
      assert.equal((await verifyMessageChains(store.db)).broken, null);
    });

    test('verify finds every kind of change made behind kefu’s back, even with the triggers dropped', async () => {
      assert.equal((await verifyMessageChains(store.db)).broken, null, 'clean before tampering');
      const changed = await conversationWith(4);
      const removed = await conversationWith(4);
      const truncated = await conversationWith(4);
      const reordered = await conversationWith(4);
      const inserted = await conversationWith(4);
      await dropTriggers(store);

      const check = async (conversationId: string, seq: number, reason: RegExp, tamper: () => Promise<unknown>, undo: () => Promise<unknown>) => {
        await tamper();
        const r = await verifyMessageChains(store.db);
        assert.ok(r.broken, `tampering with ${conversationId} went unnoticed`);
        assert.equal(r.broken.conversationId, conversationId);
        assert.equal(r.broken.seq, seq);
        assert.match(r.broken.reason, reason);
        await undo();
        assert.equal((await verifyMessageChains(store.db)).broken, null, 'clean after undoing');
      };
      const original = await store.db.selectFrom('message').selectAll().where('conversation_id', 'in', [changed, removed, truncated, reordered, inserted]).execute();
      const row = (c: string, seq: number) => original.find((m) => m.conversation_id === c && Number(m.seq) === seq)!;
      const restore = async (c: string, seq: number) => {
        await sql`delete from message where conversation_id = ${c} and seq = ${seq}`.execute(store.db);
        await store.db.insertInto('message').values(row(c, seq)).execute();
      };

      await check(changed, 2, /does not match its hash/, () => sql`update message set body = '第 2 条：退款金额 1 元' where conversation_id = ${changed} and seq = 2`.execute(store.db), () => restore(changed, 2));
      await check(removed, 3, /missing/, () => sql`delete from message where conversation_id = ${removed} and seq = 3`.execute(store.db), () => store.db.insertInto('message').values(row(removed, 3)).execute());
      await check(truncated, 4, /removed/, () => sql`delete from message where conversation_id = ${truncated} and seq = 4`.execute(store.db), () => store.db.insertInto('message').values(row(truncated, 4)).execute());
      await check(
        reordered,
        2,
        /does not match its hash/,
        async () => {
          const a = row(reordered, 2);
          const b = row(reordered, 3);
          await sql`delete from message where conversation_id = ${reordered} and seq in (2, 3)`.execute(store.db);
          await store.db.insertInto('message').values([{ ...a, seq: 3 }, { ...b, seq: 2 }]).execute();
        },
        async () => {
          await sql`delete from message where conversation_id = ${reordered} and seq in (2, 3)`.execute(store.db);
          await store.db.insertInto('message').values([row(reordered, 2), row(reordered, 3)]).execute();
        },
      );
      await check(
        inserted,
        3,
        /does not match its hash/,
        async () => {
          // shift seq 3..4 up by one and put a forged message at 3 — the way an insert in the middle must look
          const later = original.filter((m) => m.conversation_id === inserted && Number(m.seq) >= 3);
          await sql`delete from message where conversation_id = ${inserted} and seq >= 3`.execute(store.db);
          await store.db.insertInto('message').values(later.map((m) => ({ ...m, id: `${m.id}x`, seq: Number(m.seq) + 1 }))).execute();
          // the forger needs a search key of its own: the copied one is taken (keys are not part of the chain)
          await store.db.insertInto('message').values({ ...row(inserted, 3), id: 'msg_forged', body: '伪造的消息', search_key: null }).execute();
          await sql`update conversation set last_seq = 5 where id = ${inserted}`.execute(store.db);
        },
        async () => {
          await sql`delete from message where conversation_id = ${inserted} and seq >= 3`.execute(store.db);
          await store.db.insertInto('message').values(original.filter((m) => m.conversation_id === inserted && Number(m.seq) >= 3)).execute();
          await sql`update conversation set last_seq = 4 where id = ${inserted}`.execute(store.db);
        },
      );
    });

    test('a checkpoint catches a conversation rewritten with every hash and its head recomputed', async () => {
      const id = await conversationWith(3);
      const first = await createCheckpoint(store.db);
      assert.ok(first.conversations >= 1);
      assert.match(first.merkleRoot, /^[0-9a-f]{64}$/);
      const again = await createCheckpoint(store.db);
      assert.equal(again.conversations, 0, 'only conversations that grew are pinned again');
      assert.deepEqual((await verifyCheckpoints(store.db)).broken, null);
      await dropTriggers(store);
      // rewrite seq 2 and recompute the chain and the head: the chain check alone cannot see it
      const rows = await store.db.selectFrom('message').selectAll().where('conversation_id', '=', id).orderBy('seq').execute();
      let prev = GENESIS_HASH;
      for (const m of rows) {
        const body = Number(m.seq) === 2 ? '第 2 条：退款金额 0 元' : m.body;
        const hash = chainHash(prev, { conversationId: id, seq: Number(m.seq), senderKind: m.sender_kind, senderId: m.sender_id, type: m.type, body, createdAt: Number(m.created_at) });
        await sql`update message set body = ${body}, hash = ${hash} where id = ${m.id}`.execute(store.db);
        prev = hash;
      }
      await sql`update conversation set last_hash = ${prev} where id = ${id}`.execute(store.db);
      assert.equal((await verifyMessageChains(store.db)).broken, null, 'a full rewrite passes the chain check');
      const caught = await verifyCheckpoints(store.db);
      assert.equal(caught.broken?.conversationId, id);
      assert.equal(caught.broken?.seq, 3);
      assert.match(caught.broken!.reason, /rewritten/);
    });

    test('verify finds a changed or removed audit event', async () => {
      const audit = new AuditLog(store.db, store.dialect);
      for (const q of ['退款', '发票', '13800138000']) await audit.record({ actor: LOCAL_OPERATOR, action: 'search', query: { q } });
      assert.equal((await verifyAuditChain(store.db)).broken, null);
      await dropTriggers(store);
      const rows = await store.db.selectFrom('audit_event').selectAll().orderBy('id').execute();
      const victim = rows.at(-2)!;
      await sql`update audit_event set query = ${JSON.stringify({ q: '无害' })} where id = ${victim.id}`.execute(store.db);
      const changed = await verifyAuditChain(store.db);
      assert.equal(changed.broken?.id, Number(victim.id));
      await sql`update audit_event set query = ${victim.query} where id = ${victim.id}`.execute(store.db);
      await sql`delete from audit_event where id = ${victim.id}`.execute(store.db);
      const removed = await verifyAuditChain(store.db);
      assert.equal(removed.broken?.id, Number(rows.at(-1)!.id), 'the event after a removed one no longer follows');
    });

    test('kefu verify exits non-zero and names the broken conversation and seq', async () => {
      const env = { ...process.env, KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl ?? '' };
      const run = () => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'verify'], { env, encoding: 'utf8' });
      await sql`delete from audit_event`.execute(store.db);
      await sql`delete from checkpoint_head`.execute(store.db);
      await sql`delete from chain_checkpoint`.execute(store.db);
      const clean = run();
      assert.equal(clean.status, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /ok: \d+ conversations, \d+ messages verified/);
      const id = await conversationWith(3);
      await dropTriggers(store);
      await sql`update message set body = '改过的内容' where conversation_id = ${id} and seq = 2`.execute(store.db);
      const broken = run();
      assert.equal(broken.status, 1);
      assert.match(broken.stdout, new RegExp(`BROKEN conversation ${id} seq 2`));
    });
  });
}
