import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import ExcelJS from 'exceljs';
import { freshStore, tempDir, testDialects } from '../../../test/support/databases.ts';
import { MessageAppender } from '../../conversations/index.ts';
import { viewerOf } from '../../governance/index.ts';
import { searchMessages, searchParamsSchema, type SearchScope } from '../search.ts';
import { EXPORT_COLUMNS } from './columns.ts';
import { exportMessages, type ExportOptions } from './export.ts';
import type { ExportFilters } from './rows.ts';
import { JULY, T0, parseCsv, seedExportFixture, type Fixture } from './test-fixture.ts';

type Store = Awaited<ReturnType<typeof freshStore>>;

const HEADER = EXPORT_COLUMNS.map((c) => c.header);
const libreoffice = ['libreoffice', 'soffice'].find((cmd) => spawnSync('which', [cmd]).status === 0);
if (!libreoffice) process.stderr.write('note: libreoffice not installed; the LibreOffice round trip of the XLSX export is skipped\n');

/** How each stored text reads in a masked export (before the CSV formula guard). */
const MASKED: Record<string, string> = {
  '你好，我的手机号是13800138000，订单202611250001的退款还没到账': '你好，我的手机号是138****8000，订单202611250001的退款还没到账',
  '+86 139 1234 5678 是您的备用号码吗？': '+86 139****5678 是您的备用号码吗？',
  '发票抬头写错了，邮箱 lisi@example.com': '发票抬头写错了，邮箱 l***@example.com',
};

for (const dialect of testDialects()) {
  describe(`export (${dialect})`, () => {
    let store: Store;
    let fx: Fixture;
    let dir: string;
    let n = 0;

    before(async () => {
      store = await freshStore(dialect);
      fx = await seedExportFixture(store.db, new MessageAppender(store.db, store.dialect));
      dir = tempDir('kefu-export-');
    });
    after(async () => {
      await store.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const run = async (filters: Partial<ExportFilters>, opts: Partial<ExportOptions> = {}) => {
      const file = path.join(dir, `${n++}.${opts.format ?? 'csv'}`);
      const result = await exportMessages(store, { q: '', ...filters }, { format: 'csv', out: file, scope: 'all', timeZone: 'Asia/Shanghai', ...opts });
      return { result, file, bytes: fs.readFileSync(file) };
    };
    const csvRecords = (bytes: Buffer) => {
      const records = parseCsv(bytes.subarray(3).toString('utf8'));
      assert.deepEqual(records[0], HEADER);
      return records.slice(1);
    };
    const keys = (records: string[][]) => records.map((r) => `${r[0]}#${r[6]}`);

    /** the exported rows the fixture must give: no events, by conversation and seq */
    const expectedRows = () => {
      const { a, b } = fx.conversations;
      return fx.messages
        .filter((m) => m.type !== 'event')
        .map((m) => {
          const conv = m.conversationId === a ? ['ord-A', '张三', fx.wang.login, '王客服', 'web'] : m.conversationId === b ? ['', 'Li, "Lucky" Si', '', '', 'email'] : ['', '139****5678', fx.zhao.login, '赵客服', 'weibo'];
          const local = new Date(m.at + 8 * 3_600_000).toISOString().slice(0, 23) + '+08:00';
          return [m.conversationId, conv[0]!, conv[1]!, conv[2]!, conv[3]!, conv[4]!, String(m.seq), m.kind, local, m.type, MASKED[m.body] ?? m.body];
        });
    };

    test('CSV: UTF-8 with a BOM, bilingual header, CRLF, RFC 4180 quoting, zoned times, PII masked, by conversation and seq', async () => {
      const { result, bytes } = await run({});
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'byte order mark');
      const text = bytes.toString('utf8');
      assert.ok(text.includes('"Li, ""Lucky"" Si"'), 'a comma and quotes make a quoted field with doubled quotes');
      assert.ok(text.includes('"地址：北京市朝阳区""幸福""小区\n3号楼"'), 'a line break stays inside its quoted field');
      assert.ok(!/[^\r]\n/.test(text.replace(/"(?:[^"]|"")*"/g, '""')), 'outside quoted fields every line ends in CRLF');
      const rows = csvRecords(bytes);
      const expected = expectedRows().map((r) => {
        // spreadsheets would run these as formulas: the CSV starts them with an apostrophe
        const guarded = [...r];
        if (/^[=+\-@]/.test(guarded[10]!)) guarded[10] = `'${guarded[10]}`;
        return guarded;
      });
      assert.deepEqual(rows, expected);
      assert.ok(rows.some((r) => r[8] === '2026-11-25T14:03:12.123+08:00'));
      assert.equal(result.rows, expected.length);
      assert.equal(result.bytes, bytes.length);
      assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
      for (const leak of ['13800138000', '1391234', 'lisi@', '13912345678']) assert.ok(!text.includes(leak), `no ${leak} in the export`);
      assert.ok(text.includes('202611250001') && text.includes('¥1,299.00') && text.includes('2026-11-26'), 'order numbers, amounts and dates stay');
    });

    test('the time column is ISO 8601 with the offset the zone had at that moment', async () => {
      const times = async (timeZone: string) => new Map(csvRecords((await run({}, { timeZone })).bytes).map((r) => [`${r[0]}#${r[6]}`, r[8]]));
      const first = `${fx.conversations.a}#1`;
      const july = `${fx.conversations.c}#1`;
      const ny = await times('America/New_York');
      assert.equal(ny.get(first), '2026-11-25T01:03:12.123-05:00');
      assert.equal(ny.get(july), '2026-07-01T08:00:00.000-04:00', 'daylight saving time in July');
      const utc = await times('UTC');
      assert.equal(utc.get(first), '2026-11-25T06:03:12.123+00:00');
      assert.equal(Date.parse(utc.get(july)!), JULY);
      const kolkata = await times('Asia/Kolkata');
      assert.equal(kolkata.get(first), '2026-11-25T11:33:12.123+05:30');
      assert.equal(Date.parse(kolkata.get(first)!), T0);
    });

    test('filters cover exactly the messages a search with the same filters finds, also within a staff scope', async () => {
      const searched = async (filters: Record<string, unknown>, scope: SearchScope) => {
        const found: string[] = [];
        let cursor: string | undefined;
        do {
          const r = await searchMessages(store.db, store.dialect, searchParamsSchema.parse({ ...filters, limit: 200, cursor }), scope);
          found.push(...r.hits.map((h) => `${h.conversationId}#${h.seq}`));
          cursor = r.nextCursor ?? undefined;
        } while (cursor);
        return found.sort();
      };
      const cases: Array<Partial<ExportFilters>> = [
        {},
        { q: '退款' },
        { q: 'refund', channel: 'weibo' },
        { channel: 'email' },
        { agent: fx.wang.login },
        { tag: '投诉' },
        { customer: 'crm-1' },
        { group: 'grp_after_sales' },
        { conversation: fx.conversations.c },
        { from: new Date(T0 + 60_000).toISOString(), to: new Date(T0 + 86_400_000 + 60_000).toISOString() },
        { q: '！？' },
      ];
      for (const filters of cases) {
        const rows = csvRecords((await run(filters)).bytes);
        assert.deepEqual([...keys(rows)].sort(), await searched(filters, 'all'), JSON.stringify(filters));
      }
      const zhao = await viewerOf(store.db, fx.zhao);
      const scoped = csvRecords((await run({}, { scope: zhao })).bytes);
      assert.deepEqual([...keys(scoped)].sort(), await searched({}, zhao));
      assert.ok(!scoped.some((r) => r[0] === fx.conversations.a), "another agent's conversation is not exported");
      assert.equal(csvRecords((await run({ q: '！？' })).bytes).length, 0, 'nothing searchable, nothing exported: a header only');
    });

    test('in batches of any size the rows come in the same order, with progress counted up to the total', async () => {
      const whole = csvRecords((await run({})).bytes);
      const seen: Array<{ rows: number; totalRows: number }> = [];
      const small = await run({}, { batchSize: 2, onProgress: (p) => seen.push(p) });
      assert.deepEqual(csvRecords(small.bytes), whole);
      assert.deepEqual(seen[0], { rows: 0, totalRows: whole.length });
      assert.deepEqual(seen.at(-1), { rows: whole.length, totalRows: whole.length });
      assert.ok(seen.length >= whole.length / 2);
    });

    test('mask: false writes the text as stored', async () => {
      const text = (await run({}, { mask: false })).bytes.toString('utf8');
      assert.ok(text.includes('13800138000') && text.includes('lisi@example.com') && text.includes(',13912345678,'));
    });

    test('a stream destination receives the export and is ended', async () => {
      const sink = new PassThrough();
      const chunks: Buffer[] = [];
      sink.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((resolve) => sink.on('end', resolve));
      const r = await exportMessages(store, { q: '退款' }, { format: 'csv', out: sink, scope: 'all', timeZone: 'UTC' });
      await ended;
      const bytes = Buffer.concat(chunks);
      assert.equal(r.rows, csvRecords(bytes).length);
      assert.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'));
    });

    test('XLSX: the same rows read back with exceljs; a full sheet rolls over to a new one with its own header', async () => {
      const csv = csvRecords((await run({})).bytes).map((r) => r.map((v, i) => (i === 10 && v.startsWith("'") ? v.slice(1) : v)));
      const { result, file, bytes } = await run({}, { format: 'xlsx', maxRowsPerSheet: 3, batchSize: 2 });
      assert.equal(result.sha256, createHash('sha256').update(bytes).digest('hex'));
      const wb = await new ExcelJS.Workbook().xlsx.readFile(file);
      assert.equal(wb.worksheets.length, Math.ceil(csv.length / 3));
      assert.equal(result.sheets, wb.worksheets.length);
      const rows: string[][] = [];
      for (const ws of wb.worksheets) {
        // exceljs leaves an empty string out of the sheet; it reads back as an empty cell
        const values = (i: number) => Array.from({ length: 11 }, (_, c) => ws.getRow(i).getCell(c + 1).value ?? '').map(String);
        assert.deepEqual(values(1), HEADER);
        assert.ok(ws.rowCount <= 4);
        for (let i = 2; i <= ws.rowCount; i++) rows.push(values(i));
        assert.equal(typeof ws.getRow(2).getCell(7).value, 'number', 'seq is a number');
      }
      assert.deepEqual(rows, csv);
    });

    test('XLSX converted to CSV by LibreOffice holds the same rows', { skip: !libreoffice && 'libreoffice not installed' }, async () => {
      const { file } = await run({}, { format: 'xlsx' });
      const outDir = tempDir('kefu-lo-');
      try {
        const r = spawnSync(libreoffice!, ['--headless', '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76', '--outdir', outDir, file], { encoding: 'utf8', timeout: 120_000 });
        assert.equal(r.status, 0, r.stderr);
        const converted = fs.readFileSync(path.join(outDir, path.basename(file).replace(/\.xlsx$/, '.csv')), 'utf8').replace(/\r?\n/g, '\r\n');
        const records = parseCsv(converted.endsWith('\r\n') ? converted : `${converted}\r\n`);
        const csv = csvRecords((await run({})).bytes).map((row) => row.map((v, i) => (i === 10 && v.startsWith("'") ? v.slice(1) : v)));
        assert.deepEqual(records.slice(1).map((row) => row.map((v) => v.replace(/\r\n/g, '\n'))), csv);
      } finally {
        fs.rmSync(outDir, { recursive: true, force: true });
      }
    });
  });
}
