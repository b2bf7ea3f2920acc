/**
 * Export benchmark: a generated SQLite archive (default 1,000,000 messages), exported to CSV and XLSX, each phase in
 * a process of its own so its peak RSS is its own. Beside them the raw primitive: the export's SELECT stepped through
 * with nothing formatted or written.
 *
 *   npx tsx bench/export.ts [--rows 1000000] [--dir /tmp/kefu-bench-export] [--fresh]
 *
 * The archive is built once (deterministically: the Weibo dialogues of ../shared/data recombined, or synthetic
 * Chinese text when that folder is absent, with phone numbers, cards and emails planted) through the message appender
 * — hash chain and search index included — and reused by later runs with the same --rows unless --fresh.
 * Prints a table, then one JSON line with all figures.
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { openStore, type Store } from '../src/store/index.ts';
import { MessageAppender, openConversation } from '../src/conversations/index.ts';
import { createCustomer } from '../src/customers/index.ts';
import { createUser } from '../src/governance/index.ts';
import { exportMessages } from '../src/archive/export/index.ts';
import { exportBatches } from '../src/archive/export/rows.ts';
import { flag } from './lib/args.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = path.resolve(ROOT, '../shared/data/stc3_dch_zh.jsonl');

const rows = Number(flag('rows') ?? 1_000_000);
if (!Number.isInteger(rows) || rows < 1000) throw new Error('--rows must be a whole number of at least 1000');
const dir = path.resolve(flag('dir') ?? path.join(os.tmpdir(), 'kefu-bench-export'));
const phase = flag('phase') as Phase | undefined;

type Phase = 'select' | 'csv' | 'csv-unmasked' | 'xlsx';
interface PhaseResult {
  phase: Phase;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** CPU time of the process (all its threads): on a shared machine the steadier measure */
  cpuSeconds: number;
  rowsPerCpuSecond: number;
  bytes: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

/** peak resident set size of this process so far (VmHWM), in MB */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Math.round(process.resourceUsage().maxRSS / 1024);
}

// ---------------------------------------------------------------- the archive
type Turn = { role: 'customer' | 'agent'; text: string };

function dialogues(): Turn[][] {
  if (fs.existsSync(CORPUS)) {
    return fs
      .readFileSync(CORPUS, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => (JSON.parse(l) as { turns: Turn[] }).turns.filter((t) => t.text.trim() !== ''))
      .filter((t) => t.length > 0);
  }
  process.stderr.write(`note: ${CORPUS} not found; synthetic dialogues\n`);
  const asks = ['我的订单还没发货', '退款什么时候到账', '宽带又断了', '发票开错了', '流量扣费不对', '快递显示已签收但我没收到'];
  const answers = ['亲，已经为您查询，请稍等', '抱歉给您带来不便，我们马上处理', '已为您登记，24小时内回复', '请提供一下订单号'];
  return Array.from({ length: 600 }, (_, i) => [
    { role: 'customer' as const, text: `你好，${asks[i % asks.length]}，订单号2026${String(1125000000 + i)}` },
    { role: 'agent' as const, text: answers[i % answers.length]! },
    { role: 'customer' as const, text: `好的，谢谢，金额¥${(i % 90) + 10}.00` },
    { role: 'agent' as const, text: '不客气，祝您生活愉快！' },
  ]);
}

/** every 5th conversation carries PII in its first customer message, so the masking has real work */
function planted(k: number): string {
  switch (k % 20) {
    case 0:
      return ` 我的手机号是1${3 + (k % 7)}${String(k).padStart(9, '0')}`;
    case 5:
      return ` 退款请打到卡号6222 0212 3456 7890 128`;
    case 10:
      return ` 邮箱 user${k}@example.com`;
    case 15:
      return ` 身份证11010519491231002X`;
    default:
      return '';
  }
}

async function buildArchive(store: Store): Promise<void> {
  const appender = new MessageAppender(store.db, store.dialect);
  const agents: string[] = [];
  for (let i = 0; i < 20; i++) agents.push((await createUser(store.db, { login: `bench-agent-${i}`, password: 'bench-password-0123', role: 'agent', displayName: `客服${i}` })).id);
  const source = dialogues();
  const channels = ['web', 'weibo', 'email', 'app'];
  const start = Date.parse('2025-01-01T00:00:00Z');
  const started = performance.now();
  let made = 0;
  let k = 0;
  while (made < rows) {
    await store.db.transaction().execute(async (trx) => {
      for (let n = 0; n < 200 && made < rows; n++, k++) {
        const turns = source[k % source.length]!.slice(0, rows - made);
        const customer = await createCustomer(trx, { name: `客户${k}` });
        const at = start + k * 150_000;
        const { conversation } = await openConversation(trx, { customerId: customer.id, channel: channels[k % channels.length]!, externalId: `bench-${k}`, createdAt: at });
        await trx.updateTable('conversation').set({ assignee_id: agents[k % agents.length]! }).where('id', '=', conversation.id).execute();
        const results = await appender.appendWithin(
          trx,
          turns.map((t, j) => ({
            conversationId: conversation.id,
            clientId: null,
            sender: { kind: t.role, id: null },
            type: 'text' as const,
            body: j === 0 ? t.text + planted(k) : t.text,
            createdAt: at + j * 30_000,
          })),
        );
        for (const r of results) if (r instanceof Error) throw r;
        made += turns.length;
      }
    });
    if (process.stderr.isTTY) process.stderr.write(`\rbuilding the archive: ${made.toLocaleString('en')} / ${rows.toLocaleString('en')} messages`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stderr.write(`archive built: ${made.toLocaleString('en')} messages in ${k.toLocaleString('en')} conversations, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}

// ---------------------------------------------------------------- one phase (child process)
async function runPhase(p: Phase): Promise<PhaseResult> {
  const store = await openStore({ dataDir: dir });
  const rssBeforeMb = Math.round(process.memoryUsage.rss() / 1048576);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let n = 0;
  let bytes = 0;
  try {
    if (p === 'select') {
      // the export's own SELECT, stepped through as the export does, with every row dropped
      for await (const batch of exportBatches(store, { q: '' }, 'all', { batchSize: 5000 })) n += batch.length;
    } else {
      const format = p === 'xlsx' ? 'xlsx' : 'csv';
      const r = await exportMessages(store, { q: '' }, { format, out: path.join(dir, `export.${format}`), scope: 'all', timeZone: 'Asia/Shanghai', mask: p !== 'csv-unmasked' });
      n = r.rows;
      bytes = r.bytes;
    }
  } finally {
    await store.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    phase: p,
    rows: n,
    seconds: Math.round(seconds * 100) / 100,
    rowsPerSecond: Math.round(n / seconds),
    cpuSeconds: Math.round(cpuSeconds * 100) / 100,
    rowsPerCpuSecond: Math.round(n / cpuSeconds),
    bytes,
    rssBeforeMb,
    peakRssMb: peakRssMb(),
  };
}

function inChild(p: Phase): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--phase', p, '--dir', dir, '--rows', String(rows)], { execArgv: ['--import', 'tsx'] });
    child.once('message', (m) => resolve(m as PhaseResult));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`phase ${p} exited with ${code}`))));
  });
}

// ---------------------------------------------------------------- main
if (phase) {
  const r = await runPhase(phase);
  // forked by the main run: report to it; started by hand: print
  if (process.send) process.send(r);
  else process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

const stamp = path.join(dir, 'rows.txt');
if (flag('fresh') === 'true' || !fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== String(rows)) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const store = await openStore({ dataDir: dir });
  await buildArchive(store);
  await store.close();
  fs.writeFileSync(stamp, String(rows));
} else process.stderr.write(`reusing the archive in ${dir}\n`);

const sqliteBytes = fs.statSync(path.join(dir, 'kefu.sqlite')).size;
const check = new SqliteDatabase(path.join(dir, 'kefu.sqlite'), { readonly: true });
const stored = (check.prepare(`select count(*) as n from message where type != 'event'`).get() as { n: number }).n;
check.close();

const results: PhaseResult[] = [];
for (const p of ['select', 'csv', 'csv-unmasked', 'xlsx'] as const) {
  const r = await inChild(p);
  if (r.rows !== stored) throw new Error(`phase ${p} exported ${r.rows} of ${stored} messages`);
  results.push(r);
  process.stderr.write(`${p}: done\n`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown';
process.stdout.write(`\nexport benchmark: ${stored.toLocaleString('en')} messages, SQLite file ${(sqliteBytes / 1048576).toFixed(0)} MB\n`);
process.stdout.write(`machine: ${os.cpus().length} cores (${cpu}), node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n`);
process.stdout.write('phase            rows/s   seconds   rows/CPU-s   CPU s   output MB   RSS before MB   peak RSS MB\n');
for (const r of results) {
  const cells = [
    r.phase.padEnd(12),
    r.rowsPerSecond.toLocaleString('en').padStart(10),
    r.seconds.toFixed(1).padStart(7),
    r.rowsPerCpuSecond.toLocaleString('en').padStart(10),
    r.cpuSeconds.toFixed(1).padStart(5),
    (r.bytes / 1048576).toFixed(1).padStart(9),
    String(r.rssBeforeMb).padStart(13),
    String(r.peakRssMb).padStart(11),
  ];
  process.stdout.write(`${cells.join('   ')}\n`);
}
const csv = results.find((r) => r.phase === 'csv')!;
process.stdout.write(`\ntargets: CSV >= 100,000 rows/s: ${csv.rowsPerSecond >= 100_000 ? 'met' : 'NOT met'} (${csv.rowsPerSecond.toLocaleString('en')}); peak RSS <= 300 MB: ${csv.peakRssMb <= 300 ? 'met' : 'NOT met'} (${csv.peakRssMb} MB)\n`);
process.stdout.write(JSON.stringify({ rows: stored, sqliteBytes, cores: os.cpus().length, cpu, node: process.version, loadavg: os.loadavg(), results }) + '\n');
