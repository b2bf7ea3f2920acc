/**
 * The storage half of the message path, without sockets: kefu's MessageAppender with the SQLite writer thread (as the
 * server runs it), fed from this process. Two runs over the same database:
 *
 * - closed loop: every conversation keeps one append in flight; appends/s and process CPU per append;
 * - fixed rate: `--rate` appends/s spread over each millisecond (like the live scenario of bench/message-path.ts);
 *   latency from append() to its resolution (durable), p50/p99/max, and CPU per append.
 *
 *   npx tsx bench/append-thread.ts [--kefu-root DIR] [--conversations 2000] [--seconds 8] [--rate 4000]
 *        [--index-idle-ms 20] [--index-max-age-ms 500]   (the apply thread's IndexTiming, for experiments)
 *        [--apply-every-ms 20] [--apply-nice 10]   (how often the apply thread starts a transaction, its nice value)
 *
 * With `node --cpu-prof --import tsx bench/append-thread.ts`, the JSON line's fixed.window is the fixed-rate run's
 * window for bench/cpuprofile-summary.ts --window (the writer thread's profile is the second largest file).
 *
 * Half the messages are agents' replies (they move a read marker), half customers'. Fresh temp dir, embedded SQLite.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flag, kefuCheckout, num } from './lib/args.ts';
import { nowUs } from './lib/stats.ts';

const { root: kefuRoot, load } = kefuCheckout();
const conversations = num('conversations', 2000);
const seconds = num('seconds', 8);
const rate = num('rate', 4000);

const { openStore } = await load<typeof import('../src/store/index.ts')>('src/store/index.ts');
const { DEFAULT_INDEX_TIMING, MessageAppender, SqliteAppendThread, openConversation } = await load<typeof import('../src/conversations/index.ts')>('src/conversations/index.ts');
const { createCustomer } = await load<typeof import('../src/customers/customers.ts')>('src/customers/customers.ts');
const { createUser } = await load<typeof import('../src/governance/index.ts')>('src/governance/index.ts');

/** bytes this process passed to write(): the WAL frames, and the checkpoints' copies into the database file */
const wchar = () => Number(/wchar: (\d+)/.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
/** CPU ticks (user + system, 1/100 s) of each thread of this process, by thread id */
const threadTicks = () => {
  const out = new Map<string, { name: string; ticks: number }>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { name, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the thread ended
    }
  }
  return out;
};
/** the busiest threads between two readings, as "name: % of a core" */
const busiestThreads = (a: ReturnType<typeof threadTicks>, b: ReturnType<typeof threadTicks>, seconds: number) =>
  [...b]
    .map(([tid, t]) => ({ name: `${t.name}#${tid}`, pct: Math.round((t.ticks - (a.get(tid)?.ticks ?? 0)) / seconds) }))
    .filter((t) => t.pct > 0)
    .sort((x, y) => y.pct - x.pct)
    .slice(0, 5)
    .map((t) => `${t.name} ${t.pct}%`)
    .join(', ');
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;
const r2 = (x: number) => Math.round(x * 100) / 100;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-append-thread-'));
try {
  const store = await openStore({ dataDir: dir });
  const agent = await createUser(store.db, { login: 'bench-agent', password: 'bench-password-0123456789', role: 'agent' });
  const convIds: string[] = [];
  store.sqlite!.pragma('synchronous = OFF');
  for (let i = 0; i < conversations; i++) {
    const c = await createCustomer(store.db, { name: `bench customer ${i}` });
    convIds.push((await openConversation(store.db, { customerId: c.id, channel: 'web', openClientId: `open-${i}` })).conversation.id);
  }
  store.sqlite!.pragma('synchronous = FULL');
  store.checkpointInBackground((m) => process.stderr.write(`checkpoint: ${m}\n`));
  const writer = new SqliteAppendThread(store.sqlitePath!, (m) => process.stderr.write(`writer: ${m}\n`), {
    indexing: { ...DEFAULT_INDEX_TIMING, ...(flag('index-idle-ms') ? { idleMs: num('index-idle-ms', 20) } : {}), ...(flag('index-max-age-ms') ? { maxAgeMs: num('index-max-age-ms', 500) } : {}) },
    ...(flag('apply-every-ms') ? { applyEveryMs: num('apply-every-ms', 20) } : {}),
    ...(flag('apply-nice') ? { applyNice: num('apply-nice', 10) } : {}),
  });
  store.shareWriteLock(writer);
  const appender = new MessageAppender(store.db, store.dialect, { writer });
  const text = '您好，我上周下的订单还没有发货，能帮我查一下物流吗？谢谢';
  let n = 0;
  const appendOne = (conv: number) => {
    const k = n++;
    const byAgent = k % 2 === 1;
    return appender.append({
      conversationId: convIds[conv]!,
      clientId: `m${k}`,
      sender: byAgent ? { kind: 'agent', id: agent.id } : { kind: 'customer', id: null },
      type: 'text',
      body: `${text} ${k}`,
      readBy: byAgent ? agent.id : undefined,
    });
  };
  // warm up: the thread loads, caches fill
  await Promise.all(convIds.map((_, i) => appendOne(i)));
  await Promise.all(convIds.map((_, i) => appendOne(i)));

  // closed loop
  const closed = await (async () => {
    const cpu0 = process.cpuUsage();
    const w0 = wchar();
    const t0 = performance.now();
    let done = 0;
    await Promise.all(
      convIds.map(async (_, i) => {
        while (performance.now() - t0 < seconds * 1000) {
          await appendOne(i);
          done++;
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { appendsPerSec: Math.round(done / elapsed), systemCpuShare: Math.round((cpu.system / (cpu.user + cpu.system)) * 100) / 100, kbWrittenPerAppend: Math.round((wchar() - w0) / done / 102.4) / 10, cpuUsPerAppend: Math.round((cpu.user + cpu.system) / done), cpuPctOfCore: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100) };
  })();

  let commits = 0;
  appender.on('committed', () => void commits++);

  // the closed loop leaves search-index entries and WAL frames behind; catching up with them in the fixed-rate window
  // would hold its first second or two up by ~250 ms (measured), which is the closed loop's cost, not the rate's
  await writer.catchUpSearchIndex();
  await new Promise((r) => setTimeout(r, 2500));

  // fixed rate
  const fixed = await (async () => {
    commits = 0;
    const lat: number[] = [];
    const waits: Array<Promise<void>> = [];
    const cpu0 = process.cpuUsage();
    const w0 = wchar();
    const th0 = threadTicks();
    const t0 = performance.now();
    const fromUs = nowUs();
    let sent = 0;
    let conv = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (; sent < due; sent++) {
        const at = performance.now();
        waits.push(appendOne(conv++ % conversations).then(() => void lat.push(performance.now() - at)));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(waits);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    lat.sort((a, b) => a - b);
    const walMb = Math.round(fs.statSync(`${store.sqlitePath!}-wal`).size / 1e5) / 10;
    return { rate, walMb, threads: busiestThreads(th0, threadTicks(), elapsed), window: `${Math.round(fromUs)}-${Math.round(nowUs())}`, appends: lat.length, commits, meanBatch: Math.round(lat.length / commits), systemCpuShare: Math.round((cpu.system / (cpu.user + cpu.system)) * 100) / 100, kbWrittenPerAppend: Math.round((wchar() - w0) / lat.length / 102.4) / 10, latencyMs: { p50: r2(pct(lat, 50)), p99: r2(pct(lat, 99)), max: r2(lat[lat.length - 1]!) }, cpuUsPerAppend: Math.round((cpu.user + cpu.system) / lat.length), cpuPctOfCore: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100) };
  })();
  await appender.close();
  await store.close();

  process.stdout.write(`MessageAppender on the SQLite writer thread, ${conversations} conversations, kefu at ${kefuRoot}\n`);
  process.stdout.write(`closed loop: ${closed.appendsPerSec} appends/s, ${closed.cpuUsPerAppend} µs CPU per append (${closed.cpuPctOfCore}% of a core), ${closed.kbWrittenPerAppend} kB written per append\n`);
  process.stdout.write(`fixed ${rate}/s: latency p50 ${fixed.latencyMs.p50} ms, p99 ${fixed.latencyMs.p99} ms, max ${fixed.latencyMs.max} ms; ${fixed.commits} commits, mean batch ${fixed.meanBatch}; ${fixed.cpuUsPerAppend} µs CPU per append (${fixed.cpuPctOfCore}% of a core), ${fixed.kbWrittenPerAppend} kB written per append, WAL file ${fixed.walMb} MB\n  busiest threads: ${fixed.threads}\n`);
  process.stdout.write(JSON.stringify({ bench: 'append-thread', kefuRoot, conversations, seconds, closed, fixed }) + '\n');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
