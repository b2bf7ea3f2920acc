/**
 * Follow-up measurements behind the proposals in docs/BENCHMARKS.md ("Archive search"), on archives built by
 * bench/archive-generator.ts (and bench/proto-timekey.ts). Each prints p50/max over a few runs.
 *
 *   npx tsx bench/search-experiments.ts fts-range  --sqlite-dir /tmp/kefu-bench-sqlite-10m   time-key FTS: page and count, all time and one month
 *   npx tsx bench/search-experiments.ts relevance  --sqlite-dir /tmp/kefu-bench-sqlite-10m   bm25 inside one FTS5 query (ORDER BY rank), and capped to the newest 10,000 hits
 *   npx tsx bench/search-experiments.ts key-size   --sqlite-dir /tmp/kefu-bench-sqlite-10m [--messages 1000000]
 *        FTS5 size of the first N messages (time order) under four rowid schemes, each table optimized (one segment)
 *   npx tsx bench/search-experiments.ts pg-plans   --pg-url postgres://…                       count from message_search alone, hits materialized first
 *   npx tsx bench/search-experiments.ts pg-stats   --pg-url postgres://… [--target 1000]      searchMessages after ALTER … SET STATISTICS on message_search.tsv (changes the database)
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { queryTokens, toFts5Match, toTsQuery, indexText } from '../src/archive/tokenizer.ts';
import { openStore } from '../src/store/index.ts';
import { searchMessages, searchParamsSchema } from '../src/archive/search.ts';
import { flag } from './lib/args.ts';

const QUERIES = ['您好', '流量', '信号不好', '退款 订单'];
const MONTH = { from: Date.UTC(2025, 5, 1), to: Date.UTC(2025, 6, 1) };

function timeSync(label: string, f: () => unknown, n = 7) {
  f();
  const ts: number[] = [];
  let r: unknown;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    r = f();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  console.log(`${label.padEnd(62)} p50 ${ts[Math.floor(n / 2)]!.toFixed(2).padStart(8)} ms  max ${ts[n - 1]!.toFixed(2).padStart(8)} ms  ${JSON.stringify(r).slice(0, 40)}`);
}

function sqliteWithProto(dir: string) {
  const db = new Database(path.join(dir, 'kefu.sqlite'), { readonly: true });
  db.prepare('attach database ? as proto').run(path.join(dir, 'proto-timekey.sqlite'));
  return db;
}

function ftsRange(dir: string) {
  const db = sqliteWithProto(dir);
  const lo = MONTH.from * 1024;
  const hi = MONTH.to * 1024;
  for (const q of QUERIES) {
    const m = toFts5Match(queryTokens(q))!;
    const page = db.prepare(`select rowid from proto.proto_fts where proto_fts match ? order by rowid desc limit 21`);
    const pageMonth = db.prepare(`select rowid from proto.proto_fts where proto_fts match ? and rowid >= ? and rowid < ? order by rowid desc limit 21`);
    const count = db.prepare(`select count(*) n from (select rowid from proto.proto_fts where proto_fts match ? limit 10001)`);
    const countMonthAsc = db.prepare(`select count(*) n from (select rowid from proto.proto_fts where proto_fts match ? and rowid >= ? and rowid < ? limit 10001)`);
    const countMonthDesc = db.prepare(`select count(*) n from (select rowid from proto.proto_fts where proto_fts match ? and rowid >= ? and rowid < ? order by rowid desc limit 10001)`);
    timeSync(`${q}: page, newest 21 keys`, () => page.all(m).length);
    timeSync(`${q}: page, newest 21 keys in the month`, () => pageMonth.all(m, lo, hi).length);
    timeSync(`${q}: count ≤ 10,001`, () => count.get(m));
    timeSync(`${q}: count ≤ 10,001 in the month, ascending`, () => countMonthAsc.get(m, lo, hi));
    timeSync(`${q}: count ≤ 10,001 in the month, descending`, () => countMonthDesc.get(m, lo, hi));
  }
}

function relevance(dir: string) {
  const db = sqliteWithProto(dir);
  for (const q of QUERIES) {
    const m = toFts5Match(queryTokens(q))!;
    const rank = db.prepare(`select rowid, bm25(message_fts) s from message_fts where message_fts match ? order by rank limit 21`);
    const capped = db.prepare(`select rowid, bm25(proto_fts) s from proto.proto_fts where proto_fts match @m
       and rowid >= coalesce((select min(rowid) from (select rowid from proto.proto_fts where proto_fts match @m order by rowid desc limit 10000)), 0)
       order by rank limit 21`);
    timeSync(`${q}: bm25 in one FTS5 query, ORDER BY rank LIMIT 21`, () => rank.all(m).length, 3);
    timeSync(`${q}: the same among the newest 10,000 hits (time key)`, () => capped.all({ m }).length, 3);
  }
}

function keySize(dir: string, n: number) {
  const main = new Database(path.join(dir, 'kefu.sqlite'), { readonly: true });
  fs.mkdirSync('/tmp/kefu-bench-keysize', { recursive: true });
  const file = '/tmp/kefu-bench-keysize/k.sqlite';
  fs.rmSync(file, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const schemes = ['seq', 'ms1024', 'msfree', 'sec64'] as const;
  for (const s of schemes) db.exec(`create virtual table f_${s} using fts5(tokens, content='', contentless_delete=1, prefix='5')`);
  const ins = Object.fromEntries(schemes.map((s) => [s, db.prepare(`insert into f_${s} (rowid, tokens) values (?, ?)`)]));
  const rows = main.prepare(`select body, created_at from message indexed by message_created_idx where type != 'event' order by created_at, rowid limit ?`).iterate(n) as IterableIterator<{
    body: string;
    created_at: number;
  }>;
  let seq = 0;
  let lastMs = -1;
  let within = 0;
  let lastFree = 0;
  let lastSec = -1;
  let withinSec = 0;
  let batch: Array<{ t: string; keys: number[] }> = [];
  const flush = db.transaction((b: typeof batch) => {
    for (const r of b) schemes.forEach((s, i) => ins[s]!.run(r.keys[i], r.t));
  });
  for (const r of rows) {
    within = r.created_at === lastMs ? within + 1 : 0;
    lastMs = r.created_at;
    const free = Math.max(r.created_at, lastFree + 1);
    lastFree = free;
    const sec = Math.floor(r.created_at / 1000);
    withinSec = sec === lastSec ? withinSec + 1 : 0;
    lastSec = sec;
    if (withinSec >= 64) throw new Error('more than 64 messages in one second: sec64 needs another scheme');
    batch.push({ t: indexText(r.body), keys: [++seq, r.created_at * 1024 + within, free, sec * 64 + withinSec] });
    if (batch.length === 50_000) {
      flush(batch);
      batch = [];
    }
  }
  flush(batch);
  for (const s of schemes) db.exec(`insert into f_${s}(f_${s}) values('optimize')`);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const sizes = db.prepare(`select name, sum(pgsize) b from dbstat where name like 'f_%' group by name order by name`).all() as Array<{ name: string; b: number }>;
  console.log(`${n.toLocaleString('en-US')} messages (seq = today's consecutive rowids; ms1024 = ms × 1024 + n; msfree = first free integer ≥ ms; sec64 = s × 64 + n):`);
  for (const r of sizes) console.log(`  ${r.name.padEnd(20)} ${(r.b / 2 ** 20).toFixed(1).padStart(8)} MiB`);
  db.close();
  fs.rmSync('/tmp/kefu-bench-keysize', { recursive: true, force: true });
}

async function pgPlans(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const cols = `m.id, m.conversation_id, m.seq, m.sender_kind, m.sender_id, m.type, m.body, m.created_at, c.external_id, c.customer_id, c.channel, cu.name as customer_name`;
  const time = async (label: string, text: string, args: unknown[], n = 5) => {
    await c.query(text, args);
    const ts: number[] = [];
    let r: pg.QueryResult | undefined;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      r = await c.query(text, args);
      ts.push(performance.now() - t);
    }
    ts.sort((a, b) => a - b);
    console.log(`${label.padEnd(56)} p50 ${ts[Math.floor(n / 2)]!.toFixed(2).padStart(8)} ms  max ${ts[n - 1]!.toFixed(2).padStart(8)} ms  rows ${r!.rowCount} ${JSON.stringify(r!.rows[0] ?? {}).slice(0, 20)}`);
  };
  const { rows } = await c.query(`select substring(body from '订单号：(\\d{12})') as n from message where body like '%订单号：%' and created_at >= $1 order by created_at limit 1`, [(MONTH.from + MONTH.to) / 2]);
  const order = rows[0]!.n as string;
  for (const q of [...QUERIES, order, order.slice(-4), '鳄鱼']) {
    const tsq = toTsQuery(queryTokens(q))!;
    await time(`${q}: count ≤ 10,001 from message_search alone`, `select count(*) n from (select 1 from message_search s where s.tsv @@ $1::tsquery limit 10001) x`, [tsq]);
    await time(
      `${q}: page from the materialized hits (≤ 10,001), sorted`,
      `with hits as materialized (select message_id from message_search s where s.tsv @@ $1::tsquery limit 10001)
       select ${cols} from hits h join message m on m.id = h.message_id join conversation c on c.id = m.conversation_id join customer cu on cu.id = c.customer_id
       where m.type != 'event' order by m.created_at desc, m.id desc limit 21`,
      [tsq],
    );
  }
  await c.end();
}

async function pgStats(url: string, target: number) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const t = performance.now();
  await c.query(`alter table message_search alter column tsv set statistics ${target}`);
  await c.query('analyze message_search');
  console.log(`statistics target ${target} on message_search.tsv: analyze ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await c.end();
  const store = await openStore({ databaseUrl: url, dataDir: '/nonexistent', poolSize: 4 });
  const { rows } = await store.db.selectFrom('message').select('body').where('body', 'like', '%订单号：%').where('created_at', '>=', (MONTH.from + MONTH.to) / 2).orderBy('created_at').limit(1).execute().then((r) => ({ rows: r }));
  const order = /订单号：(\d{12})/.exec(rows[0]!.body)![1]!;
  for (const q of [order, order.slice(-4), '鳄鱼', '信号不好', '流量', '您好']) {
    for (const month of [false, true]) {
      const p = searchParamsSchema.parse({ q, sort: 'time', limit: '20', ...(month ? { from: new Date(MONTH.from).toISOString(), to: new Date(MONTH.to).toISOString() } : {}) });
      await searchMessages(store.db, 'postgres', p, 'all');
      const ts: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        await searchMessages(store.db, 'postgres', p, 'all');
        ts.push(performance.now() - s);
      }
      ts.sort((a, b) => a - b);
      console.log(`searchMessages ${q.padEnd(14)} ${month ? 'month' : 'all  '} p50 ${ts[2]!.toFixed(1).padStart(8)} ms  max ${ts[4]!.toFixed(1).padStart(8)} ms`);
    }
  }
  await store.close();
}

const cmd = process.argv[2];
const dir = flag('sqlite-dir') ?? '/tmp/kefu-bench-sqlite-10m';
const url = flag('pg-url');
if (cmd === 'fts-range') ftsRange(dir);
else if (cmd === 'relevance') relevance(dir);
else if (cmd === 'key-size') keySize(dir, Number(flag('messages') ?? 1_000_000));
else if (cmd === 'pg-plans') await pgPlans(url!);
else if (cmd === 'pg-stats') await pgStats(url!, Number(flag('target') ?? 1000));
else {
  console.error('usage: npx tsx bench/search-experiments.ts fts-range|relevance|key-size|pg-plans|pg-stats [options] (see the header)');
  process.exit(2);
}
