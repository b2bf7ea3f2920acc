/**
 * Message-path benchmark: kefu (embedded SQLite, separate `node bin/kefu.mjs serve` process) beside a raw socket.io
 * relay without persistence (bench/raw-relay.ts), same machine, same run, same load.
 *
 *   npm run bench:message-path -- [--scenario throughput|live|all] [--target kefu|raw|both]
 *        [--conversations 2000] [--agents 20] [--seconds 30] [--warmup 5]
 *        [--tp-seconds 10] [--tp-warmup 3] [--tp-conversations 200,2000] [--window 1] [--workers 2]
 *        [--raw-fanout match|all|assigned] [--kefu-root DIR] [--quiet-wait 120] [--profile] [--keep]
 *
 * Per target: start the server, create A agents (kefu: accounts + login cookie), open C conversations (one customer
 * socket each) from W load-generator processes (bench/load-worker.ts), let each agent send its first reply to the
 * conversations it handles (conversation i belongs to agent i mod A), then run
 *   throughput — closed loop: every customer keeps `window` messages in flight, every agent `window` per conversation
 *                it handles; counts messages delivered to their recipient (the conversation's agent, or its customer);
 *                run once per --tp-conversations level (how many of the conversations take part), the best level counts;
 *   live       — open loop: each conversation sends 1 msg/s customer→agent and 1 msg/s agent→customer, spread
 *                uniformly over the second; latency from the emit to the recipient's `message:new`.
 * Before the scenarios, one probe message shows how many agent sockets kefu delivers a customer message to (all of
 * them through a shared room, or only the conversation's assignee); the raw relay is run with the same fan-out unless
 * --raw-fanout says otherwise. --kefu-root runs kefu from another checkout (e.g. a patched copy) for comparisons.
 * On a shared machine, --quiet-wait N waits up to N seconds before each target until other processes use less than
 * half a core (the figures also report how much CPU others used during each measured window).
 * --profile records a V8 CPU profile of the kefu server (summarise with bench/cpuprofile-summary.ts).
 * Everything is bounded in time and stops by itself. Prints a table, then one JSON line with all figures.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Histogram, machineCpuSeconds, nowUs, procCpuSeconds, threadSchedSeconds, threadsOnCpuSeconds } from './lib/stats.ts';
import type { AssignMsg, InitMsg, PhaseResult, RunMsg } from './load-worker.ts';
import { flag, num } from './lib/args.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- options
const opts = {
  conversations: num('conversations', 2000),
  agents: num('agents', 20),
  seconds: num('seconds', 30),
  warmup: num('warmup', 5),
  tpSeconds: num('tp-seconds', 10),
  tpWarmup: num('tp-warmup', 3),
  tpConversations: (flag('tp-conversations') ?? `200,${num('conversations', 2000)}`).split(',').map(Number),
  window: num('window', 1),
  workers: num('workers', 2),
  scenario: (flag('scenario') ?? 'all') as 'throughput' | 'live' | 'all',
  target: (flag('target') ?? 'both') as 'kefu' | 'raw' | 'both',
  rawFanout: (flag('raw-fanout') ?? 'match') as 'match' | 'all' | 'assigned',
  kefuRoot: path.resolve(flag('kefu-root') ?? ROOT),
  quietWait: num('quiet-wait', 120),
  profile: flag('profile') === 'true',
  keep: flag('keep') === 'true',
};
if (!['throughput', 'live', 'all'].includes(opts.scenario)) throw new Error('--scenario must be throughput, live or all');
if (!['kefu', 'raw', 'both'].includes(opts.target)) throw new Error('--target must be kefu, raw or both');
if (!['match', 'all', 'assigned'].includes(opts.rawFanout)) throw new Error('--raw-fanout must be match, all or assigned');
if (opts.agents < 1 || opts.conversations < opts.agents || opts.workers < 1) throw new Error('need conversations >= agents >= 1 and workers >= 1');
if (opts.tpConversations.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--tp-conversations takes positive integers, e.g. 200,2000');
type Scenario = 'throughput' | 'live';
interface PlannedRun {
  scenario: Scenario;
  active: number;
  label: string;
}
const tpLevels = [...new Set(opts.tpConversations.map((n) => Math.min(n, opts.conversations)))].sort((a, b) => a - b);
const plan: PlannedRun[] = [
  ...(opts.scenario !== 'live' ? tpLevels.map((n) => ({ scenario: 'throughput' as const, active: n, label: `throughput@${n}` })) : []),
  ...(opts.scenario !== 'throughput' ? [{ scenario: 'live' as const, active: opts.conversations, label: 'live' }] : []),
];
const targets = opts.target === 'both' ? (['kefu', 'raw'] as const) : ([opts.target] as const);
type Target = (typeof targets)[number];

const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- servers
interface RunningServer {
  target: Target;
  proc: ChildProcess;
  url: string;
  dataDir: string;
  logFile: string;
  cookies: string[];
  stop(): Promise<void>;
}

function waitForLine(proc: ChildProcess, re: RegExp, logFile: string, timeoutMs = 60000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms; see ${logFile}`)), timeoutMs);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready; see ${logFile}`));
    });
  });
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 20000);
      proc.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      proc.kill('SIGTERM');
    });
}

async function startKefu(tmp: string): Promise<RunningServer> {
  const dataDir = path.join(tmp, 'kefu-data');
  fs.mkdirSync(dataDir, { recursive: true });
  // staff accounts go straight into the fresh database before the server opens it
  const { openStore } = (await import(pathToFileURL(path.join(opts.kefuRoot, 'src/store/index.ts')).href)) as typeof import('../src/store/index.ts');
  const { createUser } = (await import(pathToFileURL(path.join(opts.kefuRoot, 'src/governance/index.ts')).href)) as typeof import('../src/governance/index.ts');
  const store = await openStore({ dataDir });
  const passwords: Array<[string, string]> = [];
  for (let i = 0; i < opts.agents; i++) {
    const login = `bench-agent-${i}`;
    const password = `bench-password-${i}-0123456789`;
    await createUser(store.db, { login, password, role: 'agent' });
    passwords.push([login, password]);
  }
  await store.close();

  const logFile = path.join(tmp, 'kefu-server.log');
  const out = fs.openSync(logFile, 'a');
  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(tmp, 'profile')}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, path.join(opts.kefuRoot, 'bin/kefu.mjs'), 'serve'], {
    cwd: opts.kefuRoot,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', KEFU_DATA_DIR: dataDir, KEFU_DATABASE_URL: '', KEFU_LOG_LEVEL: 'warn', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', out],
  });
  children.add(proc);
  proc.stdout!.on('data', (d: Buffer) => fs.appendFileSync(logFile, d));
  const m = await waitForLine(proc, /http:\/\/localhost:(\d+)\//, logFile);
  const url = `http://127.0.0.1:${m[1]}`;
  const ready = await fetch(`${url}/readyz`);
  if (!ready.ok) throw new Error(`kefu not ready: ${ready.status}`);

  const cookies: string[] = [];
  for (const [login, password] of passwords) {
    const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }) });
    if (res.status !== 200) throw new Error(`login ${login} failed: ${res.status} ${await res.text()}`);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('kefu_session='));
    if (!cookie) throw new Error('login returned no kefu_session cookie');
    cookies.push(cookie.split(';')[0]!);
  }
  return { target: 'kefu', proc, url, dataDir, logFile, cookies, stop: stopper(proc) };
}

async function startRaw(tmp: string, fanout: 'all' | 'assigned'): Promise<RunningServer> {
  const logFile = path.join(tmp, 'raw-relay.log');
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/raw-relay.ts'), '--port', '0', '--host', '127.0.0.1', '--fanout', fanout], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', out],
  });
  children.add(proc);
  proc.stdout!.on('data', (d: Buffer) => fs.appendFileSync(logFile, d));
  const m = await waitForLine(proc, /raw-relay listening (\d+)/, logFile);
  return { target: 'raw', proc, url: `http://127.0.0.1:${m[1]}`, dataDir: '', logFile, cookies: [], stop: stopper(proc) };
}

// ---------------------------------------------------------------- server-side probes
/** parses the Prometheus text format into name{labels} → value */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

interface Probe {
  at: number;
  pid: number;
  serverCpu: number;
  /** the server's main thread (its event loop): on a CPU vs runnable but waiting for one */
  serverMainThread?: { onCpu: number; waiting: number };
  /** every server thread's seconds on a CPU, by thread id */
  serverThreads: Map<number, number>;
  machine: ReturnType<typeof machineCpuSeconds>;
  self: NodeJS.CpuUsage;
  metrics?: Map<string, number>;
  /** how long the server took to answer the metrics request: when large, its counters describe a shifted window */
  metricsMs?: number;
  stats?: { cpuSeconds: number; eventLoopDelayMs: { p50: number; p99: number; max: number } };
}

/** on-CPU % of one core over the window: the main thread (tid = pid), the busiest other thread, the rest */
function threadShares(pid: number, t0: Map<number, number>, t1: Map<number, number>, window: number): { mainLoop: number; busiestOther: number; rest: number } | null {
  if (!t1.has(pid)) return null;
  const used = [...t1].map(([tid, s]) => ({ tid, pct: ((s - (t0.get(tid) ?? 0)) / window) * 100 }));
  const main = used.find((u) => u.tid === pid)!.pct;
  const others = used.filter((u) => u.tid !== pid).sort((a, b) => b.pct - a.pct);
  const busiest = others[0]?.pct ?? 0;
  const rest = others.slice(1).reduce((a, u) => a + u.pct, 0);
  return { mainLoop: Math.round(main * 10) / 10, busiestOther: Math.round(busiest * 10) / 10, rest: Math.round(rest * 10) / 10 };
}

async function probe(server: RunningServer): Promise<Probe> {
  const pid = server.proc.pid!;
  const p: Probe = { at: nowUs(), pid, serverCpu: procCpuSeconds(pid) ?? NaN, serverMainThread: threadSchedSeconds(pid), serverThreads: threadsOnCpuSeconds(pid), machine: machineCpuSeconds(), self: process.cpuUsage() };
  // an overloaded server may not answer: the figures then go without its own metrics rather than failing the run
  try {
    const signal = AbortSignal.timeout(15000);
    const t = nowUs();
    if (server.target === 'kefu') p.metrics = parseProm(await (await fetch(`${server.url}/metrics`, { signal })).text());
    else p.stats = (await (await fetch(`${server.url}/stats`, { signal })).json()) as Probe['stats'];
    p.metricsMs = Math.round((nowUs() - t) / 1000);
  } catch (err) {
    log(`${server.target}: server metrics not read (${(err as Error).message})`);
  }
  return p;
}

const BATCH_BUCKETS = ['1', '2', '5', '10', '20', '50', '100', '200', '500', '+Inf'];
/** the upper bounds of kefu_message_queue_seconds and kefu_message_commit_seconds (src/server/metrics.ts) */
const WAIT_BUCKETS = ['0.001', '0.002', '0.005', '0.01', '0.02', '0.03', '0.05', '0.1', '0.2', '0.5', '1', '2', '5', '+Inf'];

/** p50 / p99 of a server histogram over the window, as the upper bound (ms) of the bucket holding it: coarse but honest */
function histogramQuantilesMs(d: (k: string) => number, name: string): { count: number; p50: string | null; p99: string | null } {
  const cumulative = WAIT_BUCKETS.map((le) => d(`${name}_bucket{le="${le}"}`));
  const count = cumulative[cumulative.length - 1]!;
  const at = (q: number) => {
    if (count === 0) return null;
    const i = cumulative.findIndex((c) => c >= q * count);
    const le = WAIT_BUCKETS[i]!;
    return le === '+Inf' ? `> ${Number(WAIT_BUCKETS[i - 1]) * 1000}` : `≤ ${Number(le) * 1000}`;
  };
  return { count, p50: at(0.5), p99: at(0.99) };
}

function kefuMetricsDelta(a: Map<string, number>, b: Map<string, number>) {
  const d = (k: string) => (b.get(k) ?? 0) - (a.get(k) ?? 0);
  const commits = d('kefu_message_commit_batch_size_count');
  const messages = d('kefu_message_commit_batch_size_sum');
  const cumulative = BATCH_BUCKETS.map((le) => d(`kefu_message_commit_batch_size_bucket{le="${le}"}`));
  const buckets: Record<string, number> = {};
  BATCH_BUCKETS.forEach((le, i) => {
    buckets[`<=${le}`] = cumulative[i]! - (i > 0 ? cumulative[i - 1]! : 0);
  });
  return {
    commits,
    messagesCommitted: messages,
    meanBatch: commits > 0 ? Math.round((messages / commits) * 10) / 10 : null,
    batchSizeHistogram: buckets,
    // where an acknowledged message's wait went: for a group commit to take it, then that commit and its sync
    queueMs: histogramQuantilesMs(d, 'kefu_message_queue_seconds'),
    commitMs: histogramQuantilesMs(d, 'kefu_message_commit_seconds'),
    // prom-client resets its event-loop-delay histogram on every scrape, so the 'to' scrape covers the window
    eventLoopDelayMs: {
      p50: round((b.get('nodejs_eventloop_lag_p50_seconds') ?? NaN) * 1000),
      p99: round((b.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000),
      max: round((b.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000),
    },
    heapUsedMb: round((b.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20),
  };
}

const round = (x: number, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

// ---------------------------------------------------------------- load generators
class Worker {
  readonly proc: ChildProcess;
  private waiters = new Map<string, { resolve: (m: any) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;
  constructor(readonly id: number) {
    this.proc = fork(path.join(ROOT, 'bench/load-worker.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(this.proc);
    this.ready = this.expect('ready').then(() => {});
    this.proc.on('message', (m: any) => {
      if (m.type === 'error') {
        for (const w of this.waiters.values()) w.reject(new Error(`load worker ${id}: ${m.error}`));
        this.waiters.clear();
        return;
      }
      const w = this.waiters.get(m.type);
      if (w) {
        this.waiters.delete(m.type);
        w.resolve(m);
      }
    });
    this.proc.on('exit', (code) => {
      for (const w of this.waiters.values()) w.reject(new Error(`load worker ${id} exited with ${code}`));
      this.waiters.clear();
    });
  }
  expect<T = any>(type: string): Promise<T> {
    return new Promise((resolve, reject) => this.waiters.set(type, { resolve, reject }));
  }
  request<T = any>(msg: unknown, reply: string): Promise<T> {
    const p = this.expect<T>(reply);
    this.proc.send(msg as object);
    return p;
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      this.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.proc.send({ type: 'close' });
    });
  }
}

// ---------------------------------------------------------------- one scenario against one target
interface ScenarioResult {
  target: Target;
  scenario: Scenario;
  label: string;
  activeConversations: number;
  seconds: number;
  msgsPerSec: number;
  c2aPerSec: number;
  a2cPerSec: number;
  acksPerSec: number;
  eventsPerSec: number;
  fanOut: number | null;
  sent: { c2a: number; a2c: number };
  delivered: { c2a: number; a2c: number };
  lost: { c2a: number; a2c: number };
  ackErrors: number;
  latencyMs: { c2a: ReturnType<Histogram['summaryMs']>; a2c: ReturnType<Histogram['summaryMs']>; c2aAnyAgent: ReturnType<Histogram['summaryMs']> };
  ackMs: { c2a: ReturnType<Histogram['summaryMs']>; a2c: ReturnType<Histogram['summaryMs']> };
  scheduleLagMs: ReturnType<Histogram['summaryMs']>;
  maxOutstanding: number;
  undrained: number;
  disconnects: number;
  cpu: {
    serverPctOfCore: number | null;
    /** server CPU time per message delivered to its recipient: what one message costs, whatever the contention */
    serverUsPerMessage: number | null;
    /** share of the window the server's event-loop thread was runnable but waiting for a CPU (others had it) */
    serverMainThreadWaitingPct: number | null;
    /** the server's threads on a CPU, % of one core: the event loop, the busiest other thread (kefu's writer thread
     * under load; node names every thread "node"), and all the rest (V8's GC and compiler helpers, libuv) */
    serverThreadsPctOfCore: { mainLoop: number; busiestOther: number; rest: number } | null;
    clientsPctOfCore: number | null;
    orchestratorPctOfCore: number | null;
    machineBusyPct: number | null;
    machineStealPct: number | null;
    /** interrupt and softirq time (mostly the loopback TCP traffic of this run, charged to no process), % of one core */
    kernelIrqPctOfCore: number | null;
    otherPctOfCore: number | null;
    perWorkerPctOfCore: Array<number | null>;
  };
  clientEventLoopDelayMsP99: number[];
  server: Record<string, unknown>;
}

async function runScenario(server: RunningServer, workers: Worker[], run: PlannedRun): Promise<ScenarioResult> {
  const { scenario, label } = run;
  const warmup = scenario === 'live' ? opts.warmup : opts.tpWarmup;
  const seconds = scenario === 'live' ? opts.seconds : opts.tpSeconds;
  const startAt = nowUs() + 1e6;
  const from = startAt + warmup * 1e6;
  const to = from + seconds * 1e6;
  const msg: RunMsg = {
    type: 'run',
    mode: scenario,
    startAt,
    from,
    to,
    window: opts.window,
    totalConversations: opts.conversations,
    activeConversations: run.active,
    settleMs: 1000,
  };
  log(`${server.target}: ${label} — ${run.active} conversations, ${warmup}s warm-up + ${seconds}s measured`);
  const results = Promise.all(workers.map((w) => w.request<{ result: PhaseResult }>(msg, 'result')));
  const at = (us: number) => sleep(Math.max(0, (us - nowUs()) / 1000));
  await at(from);
  const p0 = await probe(server);
  await at(to);
  const p1 = await probe(server);
  const rs = (await results).map((r) => r.result);
  if (opts.profile && server.target === 'kefu') {
    // the CPU-profile summary keeps only samples of the measured windows (same monotonic clock)
    const file = path.join(path.dirname(server.dataDir), 'profile', 'windows.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const prior = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as unknown[]) : [];
    fs.writeFileSync(file, JSON.stringify([...prior, { label: `kefu ${label}`, from: p0.at, to: p1.at }]));
  }

  const sum = (f: (r: PhaseResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const merge = (f: (r: PhaseResult) => any) => rs.reduce((h, r) => h.merge(f(r)), new Histogram());
  const window = (p1.at - p0.at) / 1e6;
  const cores = os.availableParallelism();
  const pct = (cpuSeconds: number) => round((cpuSeconds / window) * 100, 1);
  const serverCpu = p1.serverCpu - p0.serverCpu;
  const clientsCpu = sum((r) => r.cpuSeconds);
  const selfCpu = (p1.self.user - p0.self.user + p1.self.system - p0.self.system) / 1e6;
  const machineBusy = p1.machine.busy - p0.machine.busy;
  const machineTotal = p1.machine.total - p0.machine.total;
  const received = { c2a: sum((r) => r.receivedInWindow.c2a), a2c: sum((r) => r.receivedInWindow.a2c) };
  const delivered = { c2a: sum((r) => r.delivered.c2a), a2c: sum((r) => r.delivered.a2c) };
  const sent = { c2a: sum((r) => r.sent.c2a), a2c: sum((r) => r.sent.a2c) };
  // throughput: what reached its recipient during the window; live: what was sent during the window and arrived
  const counted = scenario === 'throughput' ? received : delivered;
  const events = sum((r) => r.eventsInWindow);

  let serverSide: Record<string, unknown> = {};
  if (p0.metrics && p1.metrics) serverSide = kefuMetricsDelta(p0.metrics, p1.metrics);
  serverSide.metricsAnswerMs = [p0.metricsMs ?? null, p1.metricsMs ?? null];
  if (p1.stats) serverSide = { eventLoopDelayMs: { p50: round(p1.stats.eventLoopDelayMs.p50), p99: round(p1.stats.eventLoopDelayMs.p99), max: round(p1.stats.eventLoopDelayMs.max) } };

  return {
    target: server.target,
    scenario,
    label,
    activeConversations: run.active,
    seconds,
    msgsPerSec: Math.round((counted.c2a + counted.a2c) / seconds),
    c2aPerSec: Math.round(counted.c2a / seconds),
    a2cPerSec: Math.round(counted.a2c / seconds),
    acksPerSec: Math.round(sum((r) => r.ackedInWindow) / seconds),
    eventsPerSec: Math.round(events / seconds),
    fanOut: counted.c2a + counted.a2c > 0 ? round(events / (received.c2a + received.a2c), 1) : null,
    sent,
    delivered,
    lost: { c2a: sent.c2a - delivered.c2a, a2c: sent.a2c - delivered.a2c },
    ackErrors: sum((r) => r.ackErrors),
    latencyMs: { c2a: merge((r) => r.lat.c2a).summaryMs(), a2c: merge((r) => r.lat.a2c).summaryMs(), c2aAnyAgent: merge((r) => r.lat.c2aAnyAgent).summaryMs() },
    ackMs: { c2a: merge((r) => r.ack.c2a).summaryMs(), a2c: merge((r) => r.ack.a2c).summaryMs() },
    scheduleLagMs: merge((r) => r.scheduleLag).summaryMs(),
    maxOutstanding: sum((r) => r.maxOutstanding),
    undrained: sum((r) => r.undrained),
    disconnects: Math.max(0, ...rs.map((r) => r.disconnects)),
    cpu: {
      serverPctOfCore: pct(serverCpu),
      serverUsPerMessage: counted.c2a + counted.a2c > 0 ? Math.round((serverCpu * 1e6) / (counted.c2a + counted.a2c)) : null,
      serverMainThreadWaitingPct: p0.serverMainThread && p1.serverMainThread ? round(((p1.serverMainThread.waiting - p0.serverMainThread.waiting) / window) * 100, 1) : null,
      serverThreadsPctOfCore: threadShares(p0.pid, p0.serverThreads, p1.serverThreads, window),
      clientsPctOfCore: pct(clientsCpu),
      orchestratorPctOfCore: pct(selfCpu),
      machineBusyPct: round(((machineBusy + p1.machine.irq - p0.machine.irq) / machineTotal) * 100, 1),
      machineStealPct: round(((p1.machine.steal - p0.machine.steal) / machineTotal) * 100, 1),
      kernelIrqPctOfCore: round(((p1.machine.irq - p0.machine.irq) / machineTotal) * cores * 100, 1),
      // process core-time not explained by the server, the load generators or this process: other users of the machine
      otherPctOfCore: round(Math.max(0, ((machineBusy / machineTotal) * cores * window - serverCpu - clientsCpu - selfCpu) / window) * 100, 1),
      perWorkerPctOfCore: rs.map((r) => pct(r.cpuSeconds)),
    },
    clientEventLoopDelayMsP99: rs.map((r) => round(r.eventLoopDelayMs.p99) ?? NaN),
    server: serverSide,
  };
}

// ---------------------------------------------------------------- one target: setup, scenarios, teardown
interface TargetRun {
  results: ScenarioResult[];
  setupSeconds: number;
  /** how many of the A agent sockets received one customer message of an assigned conversation */
  probeAgentsReached: number;
  rawFanout?: 'all' | 'assigned';
  profileDir?: string;
}

async function benchTarget(target: Target, tmp: string, rawFanout: 'all' | 'assigned'): Promise<TargetRun> {
  const t0 = nowUs();
  log(`${target}: starting server${target === 'raw' ? ` (fan-out: ${rawFanout})` : ''}`);
  const server = target === 'kefu' ? await startKefu(tmp) : await startRaw(tmp, rawFanout);
  const workers = Array.from({ length: opts.workers }, (_, i) => new Worker(i));
  try {
    await Promise.all(workers.map((w) => w.ready));
    log(`${target}: ${server.url} (pid ${server.proc.pid}); connecting ${opts.agents} agents and ${opts.conversations} customers from ${opts.workers} processes`);
    const inits = workers.map((w) => {
      const m: InitMsg = {
        type: 'init',
        workerId: w.id,
        url: server.url,
        numAgents: opts.agents,
        customers: Array.from({ length: opts.conversations }, (_, i) => i).filter((i) => i % opts.workers === w.id),
        agents: Array.from({ length: opts.agents }, (_, a) => a)
          .filter((a) => a % opts.workers === w.id)
          .map((a) => ({ index: a, cookie: server.cookies[a] })),
        concurrency: 32,
      };
      return w.request<{ conversations: Array<[number, string]> }>(m, 'opened');
    });
    const opened = (await Promise.all(inits)).flatMap((r) => r.conversations);
    if (opened.length !== opts.conversations) throw new Error(`opened ${opened.length} of ${opts.conversations} conversations`);
    log(`${target}: ${opened.length} conversations open; agents send their first replies`);
    await Promise.all(
      workers.map((w) => {
        const agentConversations: AssignMsg['agentConversations'] = {};
        for (const [i, id] of opened) {
          const a = i % opts.agents;
          if (a % opts.workers !== w.id) continue;
          (agentConversations[a] ??= []).push([i, id]);
        }
        return w.request({ type: 'assign', agentConversations } satisfies AssignMsg, 'assigned');
      }),
    );
    const setupSeconds = round((nowUs() - t0) / 1e6, 1)!;
    const probed = await Promise.all(workers.map((w) => w.request<{ agents: number[] }>({ type: 'probe' }, 'probed')));
    const probeAgentsReached = probed.reduce((n, p) => n + p.agents.length, 0);
    log(`${target}: set up in ${setupSeconds}s; a customer message of an assigned conversation reaches ${probeAgentsReached} of ${opts.agents} agent sockets`);
    const results: ScenarioResult[] = [];
    for (const run of plan) {
      results.push(await runScenario(server, workers, run));
      const r = results.at(-1)!;
      if (r.undrained > 0) log(`warning: ${r.undrained} messages still unacknowledged 30 s after the window; the next scenario starts with a backlog`);
      log(
        `${target} ${run.label}: ${r.msgsPerSec} msgs/s delivered (c→a ${r.c2aPerSec}, a→c ${r.a2cPerSec}), ${r.eventsPerSec} events/s; ` +
          `c→a p50/p99/max ${r.latencyMs.c2a.p50}/${r.latencyMs.c2a.p99}/${r.latencyMs.c2a.max} ms, a→c ${r.latencyMs.a2c.p50}/${r.latencyMs.a2c.p99}/${r.latencyMs.a2c.max} ms; ` +
          `server ${r.cpu.serverPctOfCore}% clients ${r.cpu.clientsPctOfCore}% other ${r.cpu.otherPctOfCore}%`,
      );
      await sleep(1000);
    }
    return {
      results,
      setupSeconds,
      probeAgentsReached,
      rawFanout: target === 'raw' ? rawFanout : undefined,
      profileDir: opts.profile && target === 'kefu' ? path.join(tmp, 'profile') : undefined,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await server.stop();
  }
}

// ---------------------------------------------------------------- report
function pad(s: unknown, n: number) {
  const t = s === null || s === undefined ? '—' : String(s);
  return t.length >= n ? t : ' '.repeat(n - t.length) + t;
}
const lat = (l: { p50: number | null; p99: number | null; max: number | null }) => `${l.p50 ?? '—'} / ${l.p99 ?? '—'} / ${l.max ?? '—'}`;

function table(all: ScenarioResult[]): string {
  const get = (t: Target, label: string) => all.find((r) => r.target === t && r.label === label);
  const lines: string[] = [];
  const row = (label: string, k: unknown, r: unknown, ratio?: string) => lines.push(`| ${label.padEnd(44)} | ${pad(k, 22)} | ${pad(r, 22)} | ${pad(ratio ?? '', 8)} |`);
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? `${Math.round((a / b) * 100)}%` : '');
  lines.push(`| ${'metric'.padEnd(44)} | ${pad('kefu (SQLite)', 22)} | ${pad('raw relay', 22)} | ${pad('kefu/raw', 8)} |`);
  lines.push(`|${'-'.repeat(46)}|${'-'.repeat(23)}:|${'-'.repeat(23)}:|${'-'.repeat(9)}:|`);
  for (const run of plan) {
    const k = get('kefu', run.label);
    const r = get('raw', run.label);
    if (run.scenario === 'throughput') {
      row(`**throughput, ${run.active} conversations**`, '', '');
      row('  delivered msgs/s (both directions)', k?.msgsPerSec, r?.msgsPerSec, ratio(k?.msgsPerSec, r?.msgsPerSec));
      row('  customer→agent msgs/s', k?.c2aPerSec, r?.c2aPerSec, ratio(k?.c2aPerSec, r?.c2aPerSec));
      row('  agent→customer msgs/s', k?.a2cPerSec, r?.a2cPerSec, ratio(k?.a2cPerSec, r?.a2cPerSec));
      row('  message:new events/s (fan-out)', k && `${k.eventsPerSec} (×${k.fanOut ?? "—"})`, r && `${r.eventsPerSec} (×${r.fanOut ?? "—"})`);
      row('  ack ms p50 / p99 / max (c→a)', k && lat(k.ackMs.c2a), r && lat(r.ackMs.c2a));
      row('  delivery ms p50 / p99 / max (c→a)', k && lat(k.latencyMs.c2a), r && lat(r.latencyMs.c2a));
    } else {
      row(`**live, ${run.active} conversations**`, '', '');
      row('  c→a delivered msgs/s', k && `${k.c2aPerSec} of ${Math.round(k.sent.c2a / k.seconds)}`, r && `${r.c2aPerSec} of ${Math.round(r.sent.c2a / r.seconds)}`);
      row('  a→c delivered msgs/s', k && `${k.a2cPerSec} of ${Math.round(k.sent.a2c / k.seconds)}`, r && `${r.a2cPerSec} of ${Math.round(r.sent.a2c / r.seconds)}`);
      row('  c→a ms p50 / p99 / max (own agent)', k && lat(k.latencyMs.c2a), r && lat(r.latencyMs.c2a));
      row('  a→c ms p50 / p99 / max (customer)', k && lat(k.latencyMs.a2c), r && lat(r.latencyMs.a2c));
      row('  c→a ms p50 / p99 / max (any agent)', k && lat(k.latencyMs.c2aAnyAgent), r && lat(r.latencyMs.c2aAnyAgent));
      row('  message:new events/s (fan-out)', k && `${k.eventsPerSec} (×${k.fanOut ?? "—"})`, r && `${r.eventsPerSec} (×${r.fanOut ?? "—"})`);
      row('  lost (sent in window, never delivered)', k && `${k.lost.c2a + k.lost.a2c}`, r && `${r.lost.c2a + r.lost.a2c}`);
      row('  client send-schedule lag ms p99', k?.scheduleLagMs.p99, r?.scheduleLagMs.p99);
    }
    row('  server CPU % of one core', k?.cpu.serverPctOfCore, r?.cpu.serverPctOfCore);
    row('  server CPU µs per delivered message', k?.cpu.serverUsPerMessage, r?.cpu.serverUsPerMessage);
    row('  server event loop waiting for a CPU, % of time', k?.cpu.serverMainThreadWaitingPct, r?.cpu.serverMainThreadWaitingPct);
    const threads = (x?: ScenarioResult) => {
      const t = x?.cpu.serverThreadsPctOfCore;
      return t && `${t.mainLoop} / ${t.busiestOther} / ${t.rest}`;
    };
    row('  server threads % of a core: event loop / busiest other / rest', threads(k), threads(r));
    row('  load generators CPU % of one core (sum)', k?.cpu.clientsPctOfCore, r?.cpu.clientsPctOfCore);
    row('  kernel irq/softirq (loopback network), % of a core', k?.cpu.kernelIrqPctOfCore, r?.cpu.kernelIrqPctOfCore);
    row('  other processes on the machine, % of a core', k?.cpu.otherPctOfCore, r?.cpu.otherPctOfCore);
    const eld = (x?: ScenarioResult) => {
      const e = (x?.server as { eventLoopDelayMs?: { p99: number | null; max: number | null } } | undefined)?.eventLoopDelayMs;
      // monitorEventLoopDelay reports 0 when it took no sample between the two scrapes (server too busy to answer)
      return x && (e ? (e.max ? `${e.p99} / ${e.max}` : 'no sample') : 'not answered');
    };
    row('  server event-loop delay ms p99 / max', eld(k), eld(r));
    if (k && (k.server as any).meanBatch != null) row('  kefu group commit: commits/s, mean batch', `${round((k.server as any).commits / k.seconds, 1)}/s, ${(k.server as any).meanBatch}`, '');
    const waits = k?.server as { queueMs?: { p50: string | null; p99: string | null }; commitMs?: { p50: string | null; p99: string | null } } | undefined;
    if (waits?.queueMs?.p50 && waits.commitMs?.p50) {
      row('  kefu ms waiting for a commit p50 / p99 (bucket bound)', `${waits.queueMs.p50} / ${waits.queueMs.p99}`, '');
      row('  kefu ms of the commit and sync p50 / p99 (bucket bound)', `${waits.commitMs.p50} / ${waits.commitMs.p99}`, '');
    }
  }
  return lines.join('\n');
}

/** waits (up to maxSeconds) until the machine has been mostly idle for 3 s; returns the busy share seen last */
async function waitForQuiet(maxSeconds: number): Promise<number> {
  const cores = os.availableParallelism();
  const samples = [machineCpuSeconds()];
  const deadline = nowUs() + maxSeconds * 1e6;
  let lastLog = nowUs();
  for (;;) {
    await sleep(1000);
    samples.push(machineCpuSeconds());
    if (samples.length > 4) samples.shift();
    const a = samples[0]!;
    const b = samples.at(-1)!;
    const busyCores = ((b.busy - a.busy) / (b.total - a.total)) * cores;
    if (samples.length === 4 && busyCores < 0.5) return busyCores;
    if (nowUs() >= deadline) {
      if (maxSeconds > 0) log(`machine still busy (${busyCores.toFixed(2)} cores used by others); going ahead anyway`);
      return busyCores;
    }
    if (nowUs() - lastLog > 10e6) {
      log(`waiting for a quieter machine: others use ${busyCores.toFixed(2)} of ${cores} cores`);
      lastLog = nowUs();
    }
  }
}

// ---------------------------------------------------------------- main
// whatever happens (error, time bound, Ctrl-C), no server or load process outlives the benchmark
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-msgpath-'));
  log(`temp dir ${tmp}; ${opts.conversations} conversations, ${opts.agents} agents, ${opts.workers} load processes, runs ${plan.map((p) => p.label).join(', ')}, targets ${targets.join('+')}`);
  // the code the kefu server loads at its start (the tree may change while the benchmark runs)
  let kefuTree = '';
  try {
    const git = (...a: string[]) => execFileSync('git', ['-C', opts.kefuRoot, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin').split('\n').filter(Boolean).length;
    kefuTree = `${git('rev-parse', '--short', 'HEAD')}${dirty ? ` + ${dirty} uncommitted changed files in src/ bin/` : ''}`;
  } catch {
    kefuTree = 'unknown (not a git checkout)';
  }
  const all: ScenarioResult[] = [];
  const setup: Record<string, number> = {};
  const reached: Record<string, number> = {};
  let rawFanoutUsed: string | undefined;
  let profileDir: string | undefined;
  const deadline = setTimeout(
    () => {
      log('benchmark exceeded its time bound; aborting');
      process.exit(3);
    },
    (targets.length * (180 + opts.quietWait + opts.seconds + opts.warmup + 60 + tpLevels.length * (opts.tpSeconds + opts.tpWarmup + 40)) + 60) * 1000,
  );
  deadline.unref();
  try {
    for (const t of targets) {
      // the relay copies the fan-out kefu was seen to use (targets run kefu first), unless told otherwise
      let fanout: 'all' | 'assigned' = opts.rawFanout === 'match' ? 'all' : opts.rawFanout;
      if (opts.rawFanout === 'match' && reached.kefu !== undefined) fanout = reached.kefu <= 1 && opts.agents > 1 ? 'assigned' : 'all';
      if (opts.quietWait > 0) {
        const busy = await waitForQuiet(opts.quietWait);
        log(`before ${t}: other processes use ${busy.toFixed(2)} cores`);
      }
      const r = await benchTarget(t, tmp, fanout);
      all.push(...r.results);
      setup[t] = r.setupSeconds;
      reached[t] = r.probeAgentsReached;
      if (r.rawFanout) rawFanoutUsed = r.rawFanout;
      profileDir ??= r.profileDir;
    }
  } finally {
    if (!opts.keep && !opts.profile) fs.rmSync(tmp, { recursive: true, force: true });
  }

  // max sustained throughput: the best concurrency level of each target
  const best = (t: Target) => all.filter((x) => x.target === t && x.scenario === 'throughput').sort((a, b) => b.msgsPerSec - a.msgsPerSec)[0];
  const bestKefu = best('kefu' as Target);
  const bestRaw = best('raw' as Target);
  const tpRatio = bestKefu && bestRaw ? round(bestKefu.msgsPerSec / bestRaw.msgsPerSec, 3) : null;
  const live = all.find((x) => x.target === 'kefu' && x.scenario === 'live');
  const targetsMet = {
    throughputAtLeastHalfOfRaw: tpRatio === null ? null : tpRatio >= 0.5,
    liveP99AtMost30ms: live ? (live.latencyMs.c2a.p99 ?? Infinity) <= 30 && (live.latencyMs.a2c.p99 ?? Infinity) <= 30 && live.lost.c2a + live.lost.a2c === 0 : null,
  };

  process.stdout.write(`\nMessage path — ${opts.conversations} conversations, ${opts.agents} agents, ${opts.workers} load processes; throughput ${opts.tpSeconds}s after ${opts.tpWarmup}s warm-up (window ${opts.window}), live ${opts.seconds}s after ${opts.warmup}s warm-up\n`);
  process.stdout.write(`kefu tree: ${kefuTree}\n`);
  const reachText = Object.entries(reached).map(([t, n]) => `${t} ${n} of ${opts.agents}`).join(', ');
  process.stdout.write(`fan-out probe (agent sockets reached by one customer message of an assigned conversation): ${reachText}${rawFanoutUsed ? `; raw relay ran with --fanout ${rawFanoutUsed}` : ''}\n\n`);
  process.stdout.write(table(all) + '\n\n');
  if (tpRatio !== null) {
    process.stdout.write(
      `max throughput: kefu ${bestKefu!.msgsPerSec} msgs/s (${bestKefu!.activeConversations} conversations), raw ${bestRaw!.msgsPerSec} msgs/s (${bestRaw!.activeConversations}): kefu/raw = ${Math.round(tpRatio * 100)}% (target ≥ 50%: ${targetsMet.throughputAtLeastHalfOfRaw ? 'met' : 'NOT met'})\n`,
    );
  }
  if (live) process.stdout.write(`live kefu p99 c→a ${live.latencyMs.c2a.p99} ms, a→c ${live.latencyMs.a2c.p99} ms (target ≤ 30 ms, nothing lost: ${targetsMet.liveP99AtMost30ms ? 'met' : 'NOT met'})\n`);
  if (profileDir) process.stdout.write(`kefu CPU profile in ${profileDir} (summarise: npx tsx bench/cpuprofile-summary.ts ${profileDir}/*.cpuprofile)\n`);
  process.stdout.write(
    JSON.stringify({ bench: 'message-path', at: new Date().toISOString(), options: opts, kefuTree, node: process.version, cpus: os.availableParallelism(), setupSeconds: setup, agentsReachedByOneMessage: reached, rawFanout: rawFanoutUsed, maxThroughput: { kefu: bestKefu?.msgsPerSec ?? null, raw: bestRaw?.msgsPerSec ?? null }, kefuOverRawThroughput: tpRatio, targetsMet, results: all }) + '\n',
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
