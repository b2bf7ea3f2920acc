import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { testDialects, freshStore, tempDir } from '../../../test/support/databases.ts';
import { CORPUS_DIR, loadCorpus } from '../../../test/support/corpus.ts';
import { MessageAppender, listMessagesAfter, GENESIS_HASH, chainHash } from '../../conversations/index.ts';
import { createUser } from '../../governance/index.ts';
import { engineQueryFor } from '../index.ts';
import { countInIndex } from '../../store/dialect/search.ts';
import { importFile, TURN_GAP_MS, type ImportSummary } from './index.ts';

type Store = Awaited<ReturnType<typeof freshStore>>;

const dir = tempDir('kefu-import-test-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(content: string, ext = 'jsonl'): string {
  const f = path.join(dir, `in-${++fileNo}.${ext}`);
  fs.writeFileSync(f, content);
  return f;
}
const jsonl = (...records: unknown[]) => records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

async function conversation(store: Store, externalId: string) {
  return store.db.selectFrom('conversation').selectAll().where('external_id', '=', externalId).executeTakeFirst();
}

async function counts(store: Store) {
  const n = async (table: 'conversation' | 'message' | 'customer' | 'conversation_event') =>
    Number((await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { conversations: await n('conversation'), messages: await n('message'), customers: await n('customer'), events: await n('conversation_event') };
}

/** messages the search index finds for a query (the index itself, without search's viewer scope) */
async function hits(store: Store, q: string) {
  return countInIndex(store.db, store.dialect, engineQueryFor(store.dialect, q)!, {}, Number.MAX_SAFE_INTEGER);
}

for (const dialect of testDialects()) {
  describe(`import (${dialect})`, () => {
    let store: Store;
    let appender: MessageAppender;
    let agentId: string;
    before(async () => {
      store = await freshStore(dialect);
      appender = new MessageAppender(store.db, store.dialect);
      agentId = (await createUser(store.db, { login: 'zhang.wei', password: 'pw-zhang-0123456789', role: 'agent' })).id;
    });
    after(async () => store.drop());

    const everyField = file(
      jsonl(
        {
          id: 'A-1',
          channel: 'email',
          customer: { externalId: 'C-9', name: '王芳', phone: '13800000000', email: 'wf@example.com' },
          agent: 'zhang.wei',
          startedAt: '2024-03-01T10:00:00+08:00',
          turns: [
            { role: 'customer', text: '你好，订单 20240301 没到', at: '2024-03-01T10:00:05+08:00' },
            { role: 'agent', text: '您好，我查一下物流', at: '2024-03-01T10:01:00+08:00' },
            { role: 'customer', type: 'image', text: 'photo-of-box.jpg' },
            { role: 'bot', text: '已为您转接人工' },
            { role: 'system', text: '会话结束' },
          ],
        },
        { id: 'A-2', customer: { externalId: 'C-9', name: '另一个名字' }, agent: 'ghost', turns: [{ role: 'customer', text: '又是我' }, { role: 'agent', text: '在的' }] },
        { id: 3, startedAt: '2024-01-01T00:00:00Z', turns: [{ role: 'customer', text: '数字编号的会话' }] },
        { id: 'A-4', agent: 'ghost', turns: [{ role: 'agent', agent: 'zhang.wei', text: '张伟为您服务' }, { role: 'agent', text: '幽灵客服' }] },
      ),
    );

    test('a JSONL file with every optional field is imported as written', async () => {
      const before = Date.now();
      const s = await importFile(store, appender, everyField);
      assert.deepEqual(s.conversations, { imported: 4, alreadyImported: 0, skipped: 0 });
      assert.equal(s.messages, 10);
      assert.equal(s.badLineCount, 0);
      assert.deepEqual(s.unknownAgents, ['ghost']);
      assert.equal(s.messagesWithUnknownAgent, 2);

      const a1 = (await conversation(store, 'A-1'))!;
      assert.equal(a1.channel, 'email');
      assert.equal(a1.state, 'closed');
      assert.equal(a1.assignee_id, agentId);
      assert.equal(Number(a1.created_at), Date.parse('2024-03-01T02:00:00Z'));
      const customer = await store.db.selectFrom('customer').selectAll().where('id', '=', a1.customer_id).executeTakeFirstOrThrow();
      assert.deepEqual([customer.external_id, customer.name, customer.phone, customer.email], ['C-9', '王芳', '13800000000', 'wf@example.com']);
      const m1 = await listMessagesAfter(store.db, a1.id, 0);
      const t1 = Date.parse('2024-03-01T02:01:00Z');
      assert.deepEqual(
        m1.map((m) => [m.seq, m.senderKind, m.senderId, m.type, m.body, m.createdAt]),
        [
          [1, 'customer', customer.id, 'text', '你好，订单 20240301 没到', Date.parse('2024-03-01T02:00:05Z')],
          [2, 'agent', agentId, 'text', '您好，我查一下物流', t1],
          [3, 'customer', customer.id, 'image', 'photo-of-box.jpg', t1 + TURN_GAP_MS],
          [4, 'bot', null, 'text', '已为您转接人工', t1 + 2 * TURN_GAP_MS],
          [5, 'system', null, 'text', '会话结束', t1 + 3 * TURN_GAP_MS],
        ],
      );
      assert.equal(Number(a1.first_response_at), t1);

      // the same customer external id is the same customer, left as it was
      const a2 = (await conversation(store, 'A-2'))!;
      assert.equal(a2.customer_id, a1.customer_id);
      assert.equal(a2.channel, 'import');
      assert.equal(a2.assignee_id, null);
      const m2 = await listMessagesAfter(store.db, a2.id, 0);
      assert.deepEqual(m2.map((m) => m.senderId), [customer.id, null]);
      // no times at all: the conversation ends at the import start (whole seconds), 30 s between messages
      assert.equal(m2[1]!.createdAt - m2[0]!.createdAt, TURN_GAP_MS);
      assert.ok(m2[1]!.createdAt >= Math.floor(before / 1000) * 1000 && m2[1]!.createdAt <= Date.now(), 'last message at the import start');
      const named = await store.db.selectFrom('conversation_event').select(['kind', 'data']).where('conversation_id', '=', a2.id).where('kind', '=', 'assigned').execute();
      assert.deepEqual(named.map((e) => JSON.parse(e.data)), [{ assigneeId: null, agent: 'ghost', source: 'import' }]);

      // a numeric id is kept as text; without a customer object each conversation gets its own customer
      const c3 = (await conversation(store, '3'))!;
      const cus3 = await store.db.selectFrom('customer').selectAll().where('id', '=', c3.customer_id).executeTakeFirstOrThrow();
      assert.deepEqual([cus3.name, cus3.external_id], ['导入客户 3', null]);

      // a turn's own agent wins over the conversation's
      const a4 = (await conversation(store, 'A-4'))!;
      assert.deepEqual((await listMessagesAfter(store.db, a4.id, 0)).map((m) => m.senderId), [agentId, null]);
      assert.equal(a4.assignee_id, agentId);

      // imported messages are in the search index like live ones
      assert.equal(await hits(store, '物流'), 1);
      assert.equal(await hits(store, '20240301'), 1);
    });

    test('importing the same file again adds nothing', async () => {
      const before = await counts(store);
      const s = await importFile(store, appender, everyField);
      assert.deepEqual(s.conversations, { imported: 0, alreadyImported: 4, skipped: 0 });
      assert.equal(s.messages, 0);
      assert.deepEqual(await counts(store), before);
      assert.equal(await hits(store, '物流'), 1);
    });

    test('bad lines are reported with their line numbers and reasons and the rest is imported', async () => {
      const f = file(
        jsonl(
          { id: 'B-1', turns: [{ role: 'customer', text: '第一条好的' }] },
          '{"id": "B-2", "turns": [',
          { turns: [{ role: 'customer', text: '没有编号' }] },
          { id: 'B-4' },
          { id: 'B-5', turns: [{ role: 'robot', text: '角色不对' }] },
          { id: 'B-6', turns: [{ role: 'customer', text: '长'.repeat(5001) }] },
          { id: 'B-7', startedAt: 'yesterday', turns: [{ role: 'customer', text: '时间不对' }] },
          '',
          { id: 'B-9', turns: [{ role: 'customer', text: '二月三十日', at: '2024-02-30T10:00:00Z' }] },
          { id: 'B-10', turns: [{ role: 'customer', text: '先', at: '2024-03-01T10:00:00Z' }, { role: 'agent', text: '后', at: '2024-03-01T09:00:00Z' }] },
          { id: 'B-11', turns: [{ role: 'customer', text: '第二条好的' }] },
          { id: 'B-1', turns: [{ role: 'customer', text: '重复的编号' }] },
          { id: 'B-13', turns: [{ role: 'customer', type: 'sticker', text: '表情' }] },
        ),
      );
      const s = await importFile(store, appender, f);
      assert.deepEqual(s.conversations, { imported: 2, alreadyImported: 0, skipped: 10 });
      assert.equal(s.badLineCount, 10);
      assert.deepEqual(
        s.badLines.map((b) => [b.line, b.id ?? null]),
        [[2, null], [3, null], [4, 'B-4'], [5, 'B-5'], [6, 'B-6'], [7, 'B-7'], [9, 'B-9'], [10, 'B-10'], [12, 'B-1'], [13, 'B-13']],
      );
      const reasons = s.badLines.map((b) => b.reason);
      assert.match(reasons[0]!, /^invalid JSON/);
      assert.equal(reasons[1], 'id is missing');
      assert.equal(reasons[2], 'turns is missing');
      assert.equal(reasons[3], 'turns[0].role must be one of customer, agent, bot, system (got "robot")');
      assert.equal(reasons[4], 'turns[0].text has 5001 characters; at most 5000 are allowed');
      assert.equal(reasons[5], 'startedAt is not an ISO 8601 time (got "yesterday")');
      assert.equal(reasons[6], 'turns[0].at is not an ISO 8601 time (got "2024-02-30T10:00:00Z")');
      assert.equal(reasons[7], 'turns[1].at 2024-03-01T09:00:00.000Z is earlier than turns[0] (2024-03-01T10:00:00.000Z)');
      assert.equal(reasons[8], 'id B-1 appeared earlier in this file');
      assert.equal(reasons[9], 'turns[0].type must be one of text, image, voice, video, file (got "sticker")');
      assert.ok(await conversation(store, 'B-11'));
      assert.equal(await conversation(store, 'B-5'), undefined);
      const b1 = (await conversation(store, 'B-1'))!;
      assert.deepEqual((await listMessagesAfter(store.db, b1.id, 0)).map((m) => m.body), ['第一条好的']);
    });

    test('only the first 20 bad lines are kept, by line number, with the full count', async () => {
      const lines = Array.from({ length: 26 }, (_, i) => (i === 0 ? JSON.stringify({ id: 'N-1', turns: [{ role: 'customer', text: 'ok' }] }) : `not json ${i}`));
      const s = await importFile(store, appender, file(lines.join('\n')), { batchSize: 3 });
      assert.equal(s.badLineCount, 25);
      assert.deepEqual(s.badLines.map((b) => b.line), Array.from({ length: 20 }, (_, i) => i + 2));
    });

    test('CSV with a BOM, CRLF, quoted commas, quotes and line breaks', async () => {
      const f = file(
        '\uFEFFconversation_id,customer_external_id,customer_name,channel,agent,role,time,type,text\r\n' +
          'K-1,C-77,"李, 雷",web,zhang.wei,customer,2024-05-01T08:00:00Z,,"第一行\r\n第二行"\r\n' +
          'K-1,,,,,agent,2024-05-01T08:01:00Z,text,"他说 ""你好"""\r\n' +
          'K-1,C-77,,,,customer,,image,pic.png\r\n' +
          'K-2,,,,,customer,,,"multi\nline\nLF"\r\n' +
          'K-3,,,,,robot,,,x\r\n' +
          'K-2,,,,,customer,,,late row\r\n',
        'csv',
      );
      const s = await importFile(store, appender, f);
      assert.deepEqual(s.conversations, { imported: 2, alreadyImported: 0, skipped: 2 });
      assert.deepEqual(
        s.badLines.map((b) => [b.line, b.id, b.reason]),
        [
          [9, 'K-3', 'role must be one of customer, agent, bot, system (got "robot")'],
          [10, 'K-2', 'conversation_id K-2 appeared earlier in this file: the rows of a conversation must be next to each other'],
        ],
      );
      const k1 = (await conversation(store, 'K-1'))!;
      assert.equal(k1.channel, 'web');
      assert.equal(k1.assignee_id, agentId);
      const cus = await store.db.selectFrom('customer').select(['name', 'external_id']).where('id', '=', k1.customer_id).executeTakeFirstOrThrow();
      assert.deepEqual(cus, { name: '李, 雷', external_id: 'C-77' });
      const m = await listMessagesAfter(store.db, k1.id, 0);
      assert.deepEqual(
        m.map((x) => [x.senderId, x.type, x.body, x.createdAt]),
        [
          [k1.customer_id, 'text', '第一行\r\n第二行', Date.parse('2024-05-01T08:00:00Z')],
          [agentId, 'text', '他说 "你好"', Date.parse('2024-05-01T08:01:00Z')],
          [k1.customer_id, 'image', 'pic.png', Date.parse('2024-05-01T08:01:30Z')],
        ],
      );
      const k2 = (await conversation(store, 'K-2'))!;
      assert.deepEqual((await listMessagesAfter(store.db, k2.id, 0)).map((x) => x.body), ['multi\nline\nLF']);
    });

    test('a conversation the database refuses leaves no trace, and its batch neighbours are imported', async () => {
      const failing = {
        appendWithin: (trx: Parameters<MessageAppender['appendWithin']>[0], inputs: Parameters<MessageAppender['appendWithin']>[1]) =>
          inputs.some((i) => i.body === '引爆') ? Promise.reject(new Error('disk on fire')) : appender.appendWithin(trx, inputs),
      };
      const f = file(
        jsonl(
          { id: 'F-1', turns: [{ role: 'customer', text: '前一个会话的暗号甲' }] },
          { id: 'F-2', customer: { externalId: 'C-F2', name: '失败客户' }, agent: 'zhang.wei', turns: [{ role: 'customer', text: '失败会话的暗号乙' }, { role: 'agent', text: '引爆' }] },
          { id: 'F-3', turns: [{ role: 'customer', text: '后一个会话的暗号丙' }] },
        ),
      );
      const before = await counts(store);
      const s = await importFile(store, failing, f);
      assert.deepEqual(s.conversations, { imported: 2, alreadyImported: 0, skipped: 1 });
      assert.deepEqual(s.badLines, [{ line: 2, id: 'F-2', reason: 'not stored: disk on fire' }]);
      assert.equal(await conversation(store, 'F-2'), undefined);
      assert.equal(await store.db.selectFrom('customer').select('id').where('external_id', '=', 'C-F2').executeTakeFirst(), undefined);
      assert.equal(await hits(store, '暗号乙'), 0);
      assert.equal(await hits(store, '暗号甲'), 1);
      // exactly two conversations' worth of rows: customer, conversation, 'created' event, message and its event each
      assert.deepEqual(await counts(store), { conversations: before.conversations + 2, messages: before.messages + 2, customers: before.customers + 2, events: before.events + 4 });
    });

    test('a dry run validates and counts but writes nothing', async () => {
      const before = await counts(store);
      const f = file(jsonl({ id: 'D-1', turns: [{ role: 'customer', text: 'x' }] }, { id: 'A-1', turns: [{ role: 'customer', text: 'y' }] }, { id: 'D-3' }));
      const s = await importFile(store, appender, f, { dryRun: true });
      assert.equal(s.dryRun, true);
      assert.deepEqual(s.conversations, { imported: 1, alreadyImported: 1, skipped: 1 });
      assert.equal(s.messages, 1);
      assert.deepEqual(await counts(store), before);
    });
  });
}

describe('the zh corpus into SQLite', () => {
  const corpus = loadCorpus('zh');
  test('4,090 conversations and 18,372 messages with dense seq and a valid hash chain', { skip: corpus === undefined && 'corpus not found' }, async () => {
    const store = await freshStore('sqlite');
    try {
      let progressCalls = 0;
      let lastProgress = 0;
      const s: ImportSummary = await importFile(store, new MessageAppender(store.db, store.dialect), path.join(CORPUS_DIR, 'stc3_dch_zh.jsonl'), {}, (p) => {
        progressCalls += 1;
        assert.ok(p.bytesRead >= lastProgress);
        lastProgress = p.bytesRead;
      });
      process.stderr.write(`zh corpus import into SQLite: ${s.messages} messages in ${s.elapsedMs} ms = ${s.messagesPerSecond} messages/s\n`);
      assert.deepEqual(s.conversations, { imported: 4090, alreadyImported: 0, skipped: 0 });
      assert.equal(s.messages, 18372);
      assert.equal(s.messages, corpus!.reduce((n, c) => n + c.turns.length, 0));
      assert.equal(lastProgress, fs.statSync(path.join(CORPUS_DIR, 'stc3_dch_zh.jsonl')).size);
      assert.ok(progressCalls > 1);

      const heads = new Map((await store.db.selectFrom('conversation').select(['id', 'external_id', 'last_seq', 'last_hash']).execute()).map((c) => [c.id, c]));
      assert.equal(heads.size, 4090);
      const rows = await sql<{ conversation_id: string; seq: number; sender_kind: 'customer' | 'agent'; sender_id: string | null; type: 'text'; body: string; created_at: number; hash: string }>`
        select conversation_id, seq, sender_kind, sender_id, type, body, created_at, hash from message order by conversation_id, seq`.execute(store.db);
      assert.equal(rows.rows.length, 18372);
      const byExternal = new Map(corpus!.map((c) => [c.id, c]));
      let current = '';
      let prev = GENESIS_HASH;
      let expected = 1;
      let turns: Array<{ role: string; text: string }> = [];
      const closeConversation = () => {
        if (current === '') return;
        const head = heads.get(current)!;
        assert.equal(Number(head.last_seq), expected - 1, `last seq of ${head.external_id}`);
        assert.equal(head.last_hash, prev, `head hash of ${head.external_id}`);
        assert.equal(turns.length, expected - 1, `message count of ${head.external_id}`);
      };
      for (const m of rows.rows) {
        if (m.conversation_id !== current) {
          closeConversation();
          current = m.conversation_id;
          prev = GENESIS_HASH;
          expected = 1;
          turns = byExternal.get(heads.get(current)!.external_id!)!.turns;
        }
        assert.equal(Number(m.seq), expected, 'seq is dense from 1');
        const turn = turns[expected - 1]!;
        assert.deepEqual([m.sender_kind, m.body], [turn.role, turn.text]);
        const h = chainHash(prev, { conversationId: m.conversation_id, seq: Number(m.seq), senderKind: m.sender_kind, senderId: m.sender_id, type: m.type, body: m.body, createdAt: Number(m.created_at) });
        assert.equal(m.hash, h, `hash of ${heads.get(current)!.external_id} seq ${m.seq}`);
        prev = h;
        expected += 1;
      }
      closeConversation();
    } finally {
      await store.drop();
    }
  });
});
