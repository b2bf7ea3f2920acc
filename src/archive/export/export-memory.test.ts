import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { freshStore, tempDir } from '../../../test/support/databases.ts';
import { MessageAppender, openConversation } from '../../conversations/index.ts';
import { createCustomer } from '../../customers/index.ts';
import { exportMessages } from './export.ts';

const ROWS = 200_000;
const PER_CONVERSATION = 100;
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;
/**
 * Buffers still referenced after a full collection: a stage without backpressure shows here long before RSS does.
 * The median of the readings, because V8 frees buffers concurrently and a reading right after gc() can catch some.
 */
const RETAINED_BUFFERS_LIMIT = { csv: 16 * 1024 * 1024, xlsx: 80 * 1024 * 1024 };
// exceljs's zip stage frees its buffers late under CPU contention (23–61 MB seen on a loaded machine); the defect this
// guards against, a stage ignoring backpressure, retained about 100 MB per 200,000 rows and grows with the row count

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const LINES = [
  '您好，请问我的订单202611250001什么时候发货？',
  '亲，您的包裹已经在路上了，预计明天送达，请保持手机13800138000畅通',
  '退款还没到账，已经三天了，卡号6222 0212 3456 7890 128',
  '抱歉让您久等了，我们已经为您加急处理，金额¥1,299.00会原路退回',
  '好的，谢谢，"麻烦"尽快,有问题我再联系\n再见',
];

// SQLite only: this measures the export's own memory, which does not depend on the dialect; PostgreSQL's paging is
// covered by export.test.ts with small batches
describe('export memory (sqlite)', () => {
  let store: Awaited<ReturnType<typeof freshStore>>;
  let dir: string;

  before(async () => {
    store = await freshStore('sqlite');
    dir = tempDir('kefu-export-mem-');
    const appender = new MessageAppender(store.db, store.dialect);
    const start = Date.parse('2026-01-01T00:00:00Z');
    // big transactions of whole conversations: the generation, not the export, is the slow part of this test
    for (let c = 0; c < ROWS / PER_CONVERSATION; c += 20) {
      await store.db.transaction().execute(async (trx) => {
        for (let k = c; k < c + 20; k++) {
          const customer = await createCustomer(trx, { name: `客户${k}` });
          const { conversation } = await openConversation(trx, { customerId: customer.id, channel: 'web', createdAt: start + k * 60_000 });
          const results = await appender.appendWithin(
            trx,
            Array.from({ length: PER_CONVERSATION }, (_, j) => ({
              conversationId: conversation.id,
              clientId: null,
              sender: { kind: j % 2 === 0 ? ('customer' as const) : ('agent' as const), id: null },
              type: 'text' as const,
              body: `${LINES[(k + j) % LINES.length]} #${k}-${j}`,
              createdAt: start + k * 60_000 + j * 1000,
            })),
          );
          for (const r of results) if (r instanceof Error) throw r;
        }
      });
    }
  });
  after(async () => {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const format of ['csv', 'xlsx'] as const) {
    test(`${ROWS.toLocaleString('en')} rows to ${format} in bounded memory`, async () => {
      gc();
      const base = process.memoryUsage.rss();
      const baseBuffers = process.memoryUsage().arrayBuffers;
      let peak = base;
      const readings: number[] = [];
      let calls = 0;
      const r = await exportMessages(store, { q: '' }, {
        format,
        out: path.join(dir, `all.${format}`),
        scope: 'all',
        timeZone: 'Asia/Shanghai',
        onProgress: () => {
          peak = Math.max(peak, process.memoryUsage.rss());
          if (++calls % 8 === 0) {
            gc();
            readings.push(process.memoryUsage().arrayBuffers - baseBuffers);
          }
        },
      });
      assert.equal(r.rows, ROWS);
      const mb = (n: number) => (n / 1048576).toFixed(0);
      const growth = peak - base;
      const retained = readings.sort((x, y) => x - y)[Math.floor(readings.length / 2)]!;
      process.stderr.write(`note: ${format} export of ${ROWS} rows: ${(r.bytes / 1048576).toFixed(1)} MB written, RSS grew ${mb(growth)} MB (limit ${mb(RSS_GROWTH_LIMIT)}), buffers retained ${mb(retained)} MB (limit ${mb(RETAINED_BUFFERS_LIMIT[format])})\n`);
      assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${mb(growth)} MB`);
      assert.ok(retained < RETAINED_BUFFERS_LIMIT[format], `buffers retained grew by ${mb(retained)} MB`);
    });
  }
});
