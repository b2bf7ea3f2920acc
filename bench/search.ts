/**
 * Archive search benchmark: kefu search (searchMessages, sort=time, limit 20, with its capped count query) against the
 * substring-scan baselines on the same data, in one run:
 *   - SQLite  `body LIKE '%word%'` (every query word, ANDed), same joins, filters, order (newest first), limit and capped
 *     count as kefu — i.e. kefu's own queries with the index condition replaced by the scan;
 *   - PostgreSQL `body ILIKE '%word%'` (what Chatwoot does), likewise;
 *   - kefu search on PostgreSQL (tsvector + GIN).
 * Archives come from bench/archive-generator.ts (the PostgreSQL one in a cluster from bench/pg-cluster.ts).
 *
 *   npx tsx bench/search.ts --sqlite-dir /tmp/kefu-bench-sqlite-10m [--pg-url postgres://…] [--pg-manifest FILE]
 *        [--runs 20] [--slow-runs 3] [--slow-ms 1000] [--month 2025-06] [--engines kefu-sqlite,like-sqlite,kefu-pg,ilike-pg]
 *        [--classes 2char,common,phrase4,multi,order,last4,nohit,nohit-phrase,1char] [--agent-classes 2char,common,phrase4,order]
 *        [--no-sizes] [--no-explain]
 *        [--out bench/out/search-….json]
 *
 * Scope: the main table searches with scope 'all' (the operator's `kefu search`: no scope condition), so it measures the
 * search itself; a second set searches kefu as the agent agent001 and as an auditor, with the access policy of
 * src/governance/policies/conversations.ts as it is at run time.
 *
 * Timing: every (engine, query, filter) pair runs once as a warm-up; when that took under --slow-ms the next --runs
 * runs are measured (warm-up excluded), otherwise --slow-runs runs in all, the warm-up included (the scans read the
 * whole table each time, so the first is not colder than the rest once the table is in the OS cache). p50 and p95 are
 * nearest-rank percentiles of those runs, in milliseconds, measured around the whole call (for kefu: searchMessages
 * with query parsing, both queries and the snippets).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { openStore, type Database, type DialectName, type Store } from '../src/store/index.ts';
import { searchMessages, searchParamsSchema, filteredMessages, EXACT_COUNT_LIMIT, type SearchParams, type SearchScope } from '../src/archive/search.ts';
import type { Viewer } from '../src/governance/policies/conversations.ts';
import type { Manifest } from './archive-generator.ts';
import { flag, num } from './lib/args.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options
const opts = {
  sqliteDir: flag('sqlite-dir'),
  pgUrl: flag('pg-url'),
  pgManifest: flag('pg-manifest') ?? path.join(ROOT, 'bench/out/pg-archive-manifest.json'),
  runs: num('runs', 20),
  slowRuns: num('slow-runs', 3),
  slowMs: num('slow-ms', 1000),
  month: flag('month') ?? '2025-06',
  engines: (flag('engines') ?? 'kefu-sqlite,like-sqlite,kefu-pg,ilike-pg').split(','),
  classes: flag('classes')?.split(','),
  agentClasses: (flag('agent-classes') ?? '2char,common,phrase4,order').split(','),
  sizes: flag('no-sizes') === undefined,
  explain: flag('no-explain') === undefined,
  out: flag('out') ?? path.join(ROOT, `bench/out/search-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
};

// ---------------------------------------------------------------- queries
interface Context {
  manifest: Manifest;
  /** a planted order number from the middle of the filter month */
  order: string;
}
interface QueryClass {
  id: string;
  label: string;
  q: (c: Context) => string;
}

/**
 * The first order number the generator planted as "订单号：<12 digits>" from the middle of the filter month on, so that
 * the number query has a hit with and without the month filter.
 */
async function plantedOrder(store: Store): Promise<string> {
  const { from, to } = monthRange();
  const mid = (Date.parse(from) + Date.parse(to)) / 2;
  const { rows } = await sql<{ body: string }>`select body from message where created_at >= ${mid} and created_at < ${Date.parse(to)} and body like ${'%订单号：%'} order by created_at limit 1`.execute(store.db);
  const m = rows[0] && /订单号：(\d{12})/.exec(rows[0].body);
  if (!m) throw new Error('no planted order number in the filter month');
  return m[1]!;
}

const monthRange = (): { from: string; to: string } => {
  const [y, mo] = opts.month.split('-').map(Number) as [number, number];
  const from = new Date(Date.UTC(y, mo - 1, 1)).toISOString();
  const to = new Date(Date.UTC(y, mo, 1)).toISOString();
  return { from, to };
};

const CLASSES: QueryClass[] = [
  { id: '2char', label: '2-char word', q: () => '流量' },
  { id: '2char', label: '2-char word', q: () => '宽带' },
  { id: 'common', label: 'very common 2-char word', q: () => '您好' },
  { id: 'phrase4', label: '4-char phrase', q: () => '信号不好' },
  { id: 'multi', label: 'multi-word', q: () => '退款 订单' },
  { id: 'order', label: 'order number (12 digits)', q: (c) => c.order },
  { id: 'last4', label: 'its last 4 digits', q: (c) => c.order.slice(-4) },
  { id: 'nohit', label: 'no hit (unknown word)', q: () => '鳄鱼' },
  { id: 'nohit-phrase', label: 'no hit (phrase of common bigrams)', q: () => '宽带流量' },
  // one character is a prefix query of the index (every bigram it starts): what FTS5's prefix index serves
  { id: '1char', label: '1-char word', q: () => '退' },
  { id: '1char', label: '1-char word', q: () => '鳄' },
];

// ---------------------------------------------------------------- engines
interface Outcome {
  shown: number;
  total: number;
  estimate: boolean;
  ids?: string[];
  /** kefu: the page stopped at the work limit (SearchResult.searchedBackTo) */
  searchedBackTo?: string | null;
  /** kefu: the cursor of the next page */
  nextCursor?: string | null;
}
type Runner = (params: SearchParams, scope: SearchScope) => Promise<Outcome>;

/** the main measurements search with scope 'all' (the operator's view, as `kefu search` on the server: no scope condition) */
const ALL: SearchScope = 'all';

function kefuRunner(store: Store): Runner {
  return async (params, scope) => {
    const r = await searchMessages(store.db, store.dialect, params, scope);
    return { shown: r.hits.length, total: r.total, estimate: r.totalIsEstimate, ids: r.hits.map((h) => h.messageId), searchedBackTo: r.searchedBackTo ?? null, nextCursor: r.nextCursor };
  };
}

function pageAndCount(db: Kysely<Database>, dialect: DialectName, base: Awaited<ReturnType<typeof filteredMessages>>, limit: number) {
  let page = base
    .innerJoin('customer as cu', 'cu.id', 'c.customer_id')
    .select(['m.id', 'm.conversation_id', 'm.seq', 'm.sender_kind', 'm.sender_id', 'm.type', 'm.body', 'm.created_at', 'c.external_id', 'c.customer_id', 'c.channel', 'cu.name as customer_name'])
    .limit(limit + 1)
    // newest first along the message table's time-ordered index, as kefu orders: the scan stops after a page of hits
    .orderBy('m.search_key', 'desc');
  // as in searchMessages: the key is unique in SQLite, PostgreSQL breaks ties by id
  if (dialect === 'postgres') page = page.orderBy('m.id', 'desc');
  const count = db.selectFrom(base.select(sql<number>`1`.as('one')).limit(EXACT_COUNT_LIMIT + 1).as('capped')).select((eb) => eb.fn.countAll<number>().as('n'));
  return { page, count };
}

/** kefu's queries (filteredMessages: same joins, filters, order, limit, capped count) with the index condition replaced by `body LIKE/ILIKE '%word%'` for every query word */
async function scanQueries(db: Kysely<Database>, dialect: DialectName, params: SearchParams, scope: SearchScope) {
  let base = await filteredMessages(db, dialect, params, null, scope);
  for (const word of params.q.trim().split(/\s+/)) {
    const pattern = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    base = dialect === 'sqlite' ? base.where(sql<boolean>`m.body like ${pattern} escape '\\'`) : base.where(sql<boolean>`m.body ilike ${pattern}`);
  }
  return pageAndCount(db, dialect, base, params.limit);
}

function scanRunner(store: Store): Runner {
  return async (params, scope) => {
    const { page, count } = await scanQueries(store.db, store.dialect, params, scope);
    const [rows, counted] = await Promise.all([page.execute(), count.executeTakeFirstOrThrow()]);
    const n = Number(counted.n);
    return { shown: Math.min(rows.length, params.limit), total: Math.min(n, EXACT_COUNT_LIMIT), estimate: n > EXACT_COUNT_LIMIT, ids: rows.slice(0, params.limit).map((r) => r.id) };
  };
}

// ---------------------------------------------------------------- measurement
interface Measured {
  engine: string;
  cls: string;
  label: string;
  q: string;
  month: boolean;
  runs: number;
  warmupExcluded: boolean;
  timesMs: number[];
  p50: number;
  p95: number;
  shown: number;
  total: number;
  estimate: boolean;
  ids?: string[];
  searchedBackTo?: string;
  error?: string;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
};
const round = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 100) / 100);

/** `secondPage`: time the page after the first (its cursor from one run of the first), as 加载更多 asks for it */
async function measure(engine: string, run: Runner, c: QueryClass, q: string, month: boolean, scope: SearchScope = ALL, secondPage = false): Promise<Measured> {
  let params = searchParamsSchema.parse({ q, sort: 'time', limit: '20', ...(month ? monthRange() : {}) });
  if (secondPage) {
    const cursor = (await run(params, scope)).nextCursor;
    if (!cursor) throw new Error('no second page');
    params = searchParamsSchema.parse({ q, sort: 'time', limit: '20', cursor, ...(month ? monthRange() : {}) });
  }
  const once = async () => {
    const t = performance.now();
    const o = await run(params, scope);
    return { ms: performance.now() - t, o };
  };
  const first = await once();
  const times: number[] = [];
  let last = first.o;
  const slow = first.ms >= opts.slowMs;
  if (slow) times.push(first.ms);
  const n = slow ? opts.slowRuns : opts.runs;
  while (times.length < n) {
    const r = await once();
    times.push(r.ms);
    last = r.o;
  }
  const m: Measured = {
    engine,
    cls: c.id,
    label: c.label,
    q,
    month,
    runs: times.length,
    warmupExcluded: !slow,
    timesMs: times.map(round),
    p50: round(pct(times, 50)),
    p95: round(pct(times, 95)),
    shown: last.shown,
    total: last.total,
    estimate: last.estimate,
    ids: last.ids,
    ...(last.searchedBackTo ? { searchedBackTo: last.searchedBackTo } : {}),
  };
  const partial = m.searchedBackTo ? `, page of ${m.shown} stopped at the work limit (searched since ${m.searchedBackTo})` : '';
  log(`  ${engine.padEnd(16)} ${c.id.padEnd(13)} ${q.padEnd(14)} ${month ? 'month' : 'all  '}  p50 ${String(m.p50).padStart(9)} ms  p95 ${String(m.p95).padStart(9)} ms  (${m.runs} runs)  hits ${m.total}${m.estimate ? '+' : ''}${partial}`);
  return m;
}

const logLines: string[] = [];
function log(line: string) {
  logLines.push(line);
  console.log(line);
}

// ---------------------------------------------------------------- sizes, plans
async function sqliteSizes(store: Store) {
  const s = store.sqlite!;
  const t = performance.now();
  const pages = s.prepare(`select name, sum(pgsize) as bytes from dbstat group by name order by bytes desc`).all() as Array<{ name: string; bytes: number }>;
  const raw = s.prepare(`select count(*) as messages, sum(length(body)) as chars, sum(length(cast(body as blob))) as bytes from message where type != 'event'`).get() as {
    messages: number;
    chars: number;
    bytes: number;
  };
  const fts = pages.filter((p) => p.name.startsWith('message_fts')).reduce((a, p) => a + p.bytes, 0);
  const file = fs.statSync(store.sqlitePath!).size;
  return { seconds: Math.round((performance.now() - t) / 100) / 10, file, raw, ftsBytes: fts, ftsToRawBytes: Math.round((fts / raw.bytes) * 100) / 100, byObject: pages };
}

async function pgSizes(store: Store) {
  const { rows } = await sql<Record<string, string>>`
    select pg_relation_size('message_search') as table_bytes,
           pg_total_relation_size('message_search') as total_bytes,
           pg_relation_size('message_search_tsv_idx') as gin_bytes,
           pg_relation_size('message_search_pkey') as pkey_bytes,
           pg_total_relation_size('message') as message_total_bytes,
           pg_database_size(current_database()) as database_bytes,
           (select sum(octet_length(body)) from message where type != 'event') as raw_bytes,
           (select sum(char_length(body)) from message where type != 'event') as raw_chars`.execute(store.db);
  const r = Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
  return { ...r, searchToRawBytes: Math.round((r.total_bytes! / r.raw_bytes!) * 100) / 100, ginOnlyToRawBytes: Math.round(((r.gin_bytes! ) / r.raw_bytes!) * 100) / 100 };
}

async function explainScan(store: Store, params: SearchParams, scope: SearchScope = ALL): Promise<{ page: string; count: string }> {
  const { page, count } = await scanQueries(store.db, store.dialect, params, scope);
  const one = async (q: { compile(): CompiledQuery }) => {
    const c = q.compile();
    if (store.dialect === 'sqlite') {
      const rows = store.sqlite!.prepare(`explain query plan ${c.sql}`).all(...(c.parameters as unknown[])) as Array<{ id: number; parent: number; detail: string }>;
      const depth = new Map<number, number>([[0, -1]]);
      return rows.map((r) => {
        const d = (depth.get(r.parent) ?? -1) + 1;
        depth.set(r.id, d);
        return `${'  '.repeat(d)}${r.detail}`;
      }).join('\n');
    }
    const res = await store.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain (analyze, buffers) ${c.sql}`, [...c.parameters]));
    return res.rows.map((r) => r['QUERY PLAN']).join('\n');
  };
  return { page: await one(page), count: await one(count) };
}

// ---------------------------------------------------------------- main
async function main() {
  const started = new Date();
  const stores: Record<string, Store> = {};
  const manifests: Record<string, Manifest> = {};
  if (opts.sqliteDir) {
    manifests.sqlite = JSON.parse(fs.readFileSync(path.join(opts.sqliteDir, 'manifest.json'), 'utf8')) as Manifest;
    stores.sqlite = await openStore({ dataDir: opts.sqliteDir });
  }
  if (opts.pgUrl) {
    manifests.postgres = JSON.parse(fs.readFileSync(opts.pgManifest, 'utf8')) as Manifest;
    stores.postgres = await openStore({ databaseUrl: opts.pgUrl, dataDir: '/nonexistent', poolSize: 4 });
  }
  const versions: Record<string, string> = { node: process.version };
  if (stores.sqlite) versions.sqlite = (stores.sqlite.sqlite!.prepare('select sqlite_version() as v').get() as { v: string }).v;
  if (stores.postgres) versions.postgres = (await sql<{ v: string }>`select version() as v`.execute(stores.postgres.db)).rows[0]!.v;
  const machine = { nproc: os.cpus().length, cpu: os.cpus()[0]?.model, ramGiB: Math.round(os.totalmem() / 2 ** 30), loadavgStart: os.loadavg() };
  log(`archive search benchmark ${started.toISOString()}  ${JSON.stringify(versions)}  ${JSON.stringify(machine)}`);
  const contexts: Record<string, Context> = {};
  for (const [d, m] of Object.entries(manifests)) {
    contexts[d] = { manifest: m, order: await plantedOrder(stores[d]!) };
    log(`  ${d}: ${m.messages.toLocaleString('en-US')} messages, ${m.conversations.toLocaleString('en-US')} conversations, seed ${m.options.seed}; order number ${contexts[d]!.order}`);
  }

  const engines: Array<{ name: string; dialect: DialectName; run: Runner }> = [];
  for (const e of opts.engines) {
    if (e === 'kefu-sqlite' && stores.sqlite) engines.push({ name: e, dialect: 'sqlite', run: kefuRunner(stores.sqlite) });
    if (e === 'like-sqlite' && stores.sqlite) engines.push({ name: e, dialect: 'sqlite', run: scanRunner(stores.sqlite) });
    if (e === 'kefu-pg' && stores.postgres) engines.push({ name: e, dialect: 'postgres', run: kefuRunner(stores.postgres) });
    if (e === 'ilike-pg' && stores.postgres) engines.push({ name: e, dialect: 'postgres', run: scanRunner(stores.postgres) });
  }
  const classes = CLASSES.filter((c) => !opts.classes || opts.classes.includes(c.id));
  const results: Measured[] = [];
  for (const c of classes) {
    for (const month of [false, true]) {
      for (const e of engines) {
        const q = c.q(contexts[e.dialect]!);
        try {
          results.push(await measure(e.name, e.run, c, q, month));
        } catch (err) {
          log(`  ${e.name} ${c.id} ${q} ${month ? 'month' : 'all'}: ERROR ${(err as Error).message}`);
          results.push({ engine: e.name, cls: c.id, label: c.label, q, month, runs: 0, warmupExcluded: false, timesMs: [], p50: NaN, p95: NaN, shown: 0, total: 0, estimate: false, error: (err as Error).message });
        }
      }
    }
  }

  // staff scopes (src/governance/policies/conversations.ts as it is at run time): the agent agent001 (own conversations,
  // general queue, conversations they wrote in) and an auditor; kefu engines only
  const agentScoped: Measured[] = [];
  for (const e of engines.filter((x) => x.name.startsWith('kefu'))) {
    const u = await stores[e.dialect]!.db.selectFrom('app_user').select(['id', 'login']).where('login', '=', 'agent001').executeTakeFirstOrThrow();
    const viewers: Array<[string, Viewer]> = [
      ['agent', { id: u.id, login: u.login, role: 'agent', departmentId: null, groupIds: [] }],
      ['auditor', { id: 'usr_bench_auditor', login: 'bench-auditor', role: 'auditor', departmentId: null, groupIds: [] }],
      // an agent with no conversation yet: every match lies outside the scope (the worst case of a narrow scope)
      ['new agent', { id: 'usr_bench_new_agent', login: 'bench-new-agent', role: 'agent', departmentId: null, groupIds: [] }],
    ];
    for (const [role, viewer] of viewers) {
      for (const c of classes.filter((x) => opts.agentClasses.includes(x.id))) {
        const q = c.q(contexts[e.dialect]!);
        try {
          const m = await measure(`${e.name}/${role}`, e.run, c, q, false, viewer);
          agentScoped.push(m);
          // the next page (加载更多) of an agent's search: the cursor carries the count
          if (role === 'agent') {
            try {
              agentScoped.push(await measure(`${e.name}/${role} page 2`, e.run, c, q, false, viewer, true));
            } catch (err) {
              log(`  ${e.name}/${role} page 2 ${q}: ${(err as Error).message}`);
            }
          }
        } catch (err) {
          log(`  ${e.name}/${role} ${q}: ERROR ${(err as Error).message}`);
        }
      }
    }
  }

  // relevance sort, for the record (kefu only, few runs)
  const relevance: Measured[] = [];
  for (const [d, store] of Object.entries(stores)) {
    for (const q of ['信号不好', '退款 订单']) {
      const params = searchParamsSchema.parse({ q, sort: 'relevance', limit: '20' });
      const t = performance.now();
      const r = await searchMessages(store.db, store.dialect, params, ALL);
      const ms = performance.now() - t;
      relevance.push({ engine: `kefu-${d === 'sqlite' ? 'sqlite' : 'pg'}`, cls: 'relevance', label: 'sort=relevance', q, month: false, runs: 1, warmupExcluded: false, timesMs: [round(ms)], p50: round(ms), p95: round(ms), shown: r.hits.length, total: r.total, estimate: r.totalIsEstimate });
      log(`  kefu ${d} sort=relevance ${q}: ${round(ms)} ms (1 run), hits ${r.total}${r.totalIsEstimate ? '+' : ''}`);
    }
  }

  // the plans of the scan baselines, for the record
  const diagnostics: Array<Record<string, unknown>> = [];
  if (opts.explain) {
    for (const [d, store] of Object.entries(stores)) {
      const params = searchParamsSchema.parse({ q: '流量', sort: 'time', limit: '20' });
      diagnostics.push({ dialect: d, cls: 'scan-plan', q: '流量', plan: await explainScan(store, params) });
    }
  }

  const sizes: Record<string, unknown> = {};
  if (opts.sizes && stores.sqlite) {
    sizes.sqlite = await sqliteSizes(stores.sqlite);
    log(`  sqlite sizes: ${JSON.stringify(sizes.sqlite, (k, v) => (k === 'byObject' ? undefined : v))}`);
  }
  if (opts.sizes && stores.postgres) {
    sizes.postgres = await pgSizes(stores.postgres);
    log(`  postgres sizes: ${JSON.stringify(sizes.postgres)}`);
  }

  printTable(results);
  const out = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    options: opts,
    month: monthRange(),
    versions,
    machine: { ...machine, loadavgEnd: os.loadavg() },
    manifests: Object.fromEntries(Object.entries(manifests).map(([k, m]) => [k, { ...m, planted: { ...m.planted, samples: m.planted.samples.length } }])),
    results: results.map(({ ids: _ids, ...r }) => r),
    agentScoped: agentScoped.map(({ ids: _ids, ...r }) => r),
    relevance,
    diagnostics,
    sizes,
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwritten ${opts.out}`);
  for (const s of Object.values(stores)) await s.close();
}

function printTable(results: Measured[]) {
  const get = (engine: string, q: string, month: boolean) => results.find((r) => r.engine === engine && r.q === q && r.month === month);
  const cell = (m?: Measured) => (m ? (m.error ? 'error' : `${m.p50} / ${m.p95}`) : '–');
  const x = (a?: Measured, b?: Measured) => (a && b && !a.error && !b.error ? `${Math.round(b.p50 / a.p50).toLocaleString('en-US')}×` : '–');
  const seen = new Set<string>();
  console.log('\n| class | query | filter | hits (kefu) | kefu SQLite p50 / p95 ms | LIKE SQLite p50 / p95 ms | LIKE÷kefu | kefu PG p50 / p95 ms | ILIKE PG p50 / p95 ms | ILIKE÷kefu SQLite | ILIKE÷kefu PG |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const key = `${r.cls}|${r.q}|${r.month}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ks = get('kefu-sqlite', r.q, r.month);
    const ls = get('like-sqlite', r.q, r.month);
    const kp = results.find((m) => m.engine === 'kefu-pg' && m.cls === r.cls && m.month === r.month && (m.q === r.q || r.cls === 'order' || r.cls === 'last4'));
    const ip = results.find((m) => m.engine === 'ilike-pg' && m.cls === r.cls && m.month === r.month && (m.q === r.q || r.cls === 'order' || r.cls === 'last4'));
    const hits = ks ?? kp;
    console.log(
      `| ${r.label} | ${r.q} | ${r.month ? 'one month' : 'none'} | ${hits ? `${hits.total}${hits.estimate ? '+' : ''}` : '–'} | ${cell(ks)} | ${cell(ls)} | ${x(ks, ls)} | ${cell(kp)} | ${cell(ip)} | ${x(ks, ip)} | ${x(kp, ip)} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
