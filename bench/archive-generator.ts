/**
 * Archive generator for the "Chat archive" benchmarks: builds an N-message archive (default 10,000,000) by recombining
 * the real customer-service dialogues in ../shared/data (NTCIR-14 STC-3 DCH-1, Chinese + English), written through the
 * product's one write path (MessageAppender.appendWithin: seq, hash chain and search index in the same transaction).
 *
 *   npx tsx bench/archive-generator.ts --dialect sqlite --dir /tmp/kefu-bench-sqlite-10m [--messages 10000000]
 *   npx tsx bench/archive-generator.ts --dialect postgres --database-url postgres://… [--messages 3000000]
 *        [--customers 200000] [--agents 200] [--per-tx 2000] [--seed 20241] [--en-share 0.15]
 *        [--progress-every 250000] [--manifest FILE] [--corpus-dir ../shared/data] [--timing-split]
 *
 * --timing-split: time every statement (Kysely log) and tokenize every message once more outside the write path, then
 * print where the writing time went (the extra tokenizer pass is left out of the rates).
 *
 * (a throwaway PostgreSQL cluster for --database-url: `npx tsx bench/pg-cluster.ts`)
 *
 * What it writes (deterministic for a given --seed and --messages, except the ids, which come from store/ids.ts and
 * embed the wall clock and random bytes):
 * - `--agents` staff users (role agent, login agent001…, all with the same argon2 hash of "bench-password-1").
 * - `--customers` customers (createCustomer: external id bench-cus-<i>, a Chinese name, an 11-digit phone, 5 % VIP).
 * - conversations until N messages: each takes the role sequence (customer/agent turns) of a random corpus conversation
 *   of one language (Chinese, or English with probability --en-share); every turn's text is drawn independently from all
 *   corpus turns of that role and language. So a message is always a real message (the per-message term statistics are
 *   the corpus's), but conversations are recombined and every corpus text recurs about N / 27,800 times.
 * - planted numbers: 5 % of conversations get a unique 12-digit order number in a customer turn (and in half of them the
 *   next agent turn repeats it); 4 % get an 11-digit mobile number (written 13812345678, 138 1234 5678 or 138-1234-5678).
 * - times: conversations are created in increasing time order, spread evenly over two years (2024-01-01 to
 *   2026-01-01 UTC, by message count); a conversation's turns follow 10 s – 15 min apart, so neighbouring conversations
 *   interleave slightly (created_at is nearly, not strictly, increasing with insertion order).
 * - channel web 30 % / weibo 35 % / app 25 % / email 10 %; state closed; assignee: a random agent when the
 *   conversation has agent turns (agent turns are sent by it); tags: 投诉 when a customer turn contains 投诉/complain
 *   (else 3 % at random), 退款 when any turn contains 退款/refund, VIP for VIP customers.
 * Each transaction writes --per-tx conversations: openConversation for each, one appendWithin for all their messages,
 * then the assignees and tags. Prints a progress line every --progress-every messages and the import rate (messages/s
 * including the search index) at the 1M, 5M and 10M checkpoints; writes a manifest (shape, rates, sample planted
 * numbers) as JSON for bench/search.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash } from '@node-rs/argon2';
import { Kysely, PostgresDialect, SqliteDialect, sql, type LogEvent, type Transaction } from 'kysely';
import pg from 'pg';
import { openStore, newId, type Database, type DialectName, type Store } from '../src/store/index.ts';
import { indexText } from '../src/archive/tokenizer.ts';
import { MessageAppender, AppendError, type AppendInput } from '../src/conversations/appender.ts';
import { openConversation } from '../src/conversations/conversations.ts';
import { createCustomer } from '../src/customers/customers.ts';
import { flag, num } from './lib/args.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const ARCHIVE_START = Date.UTC(2024, 0, 1);
export const ARCHIVE_END = Date.UTC(2026, 0, 1);
export const CHANNELS: Array<[string, number]> = [
  ['web', 0.3],
  ['weibo', 0.35],
  ['app', 0.25],
  ['email', 0.1],
];
export const TAGS = ['投诉', '退款', 'VIP'] as const;

export interface GenerateOptions {
  messages: number;
  customers: number;
  agents: number;
  perTx: number;
  seed: number;
  enShare: number;
  orderShare: number;
  phoneShare: number;
  progressEvery: number;
  checkpoints: number[];
  corpusDir: string;
  /** also tokenize every message a second time, outside the write path, to time the tokenizer alone */
  timeTokenizer: boolean;
  /** PostgreSQL: CPU seconds used so far by the cluster (for msgs per cpu-second) */
  serverCpuSeconds?: () => number;
  /** called once the agents and customers are written, before the first message */
  onWriteStart?: () => void;
  log: (line: string) => void;
}

export const DEFAULTS: GenerateOptions = {
  messages: 10_000_000,
  customers: 200_000,
  agents: 200,
  perTx: 2000,
  seed: 20241,
  enShare: 0.15,
  orderShare: 0.05,
  phoneShare: 0.04,
  progressEvery: 250_000,
  checkpoints: [1_000_000, 5_000_000, 10_000_000],
  corpusDir: path.resolve(ROOT, '../shared/data'),
  timeTokenizer: false,
  log: (l) => console.log(l),
};

export interface PlantedSample {
  kind: 'order' | 'phone';
  number: string;
  /** as written in the message */
  written: string;
  conversationIndex: number;
  at: number;
}

export interface Checkpoint {
  messages: number;
  conversations: number;
  seconds: number;
  /** messages/s from the first message to this checkpoint */
  rate: number;
  /** messages/s since the previous checkpoint */
  intervalRate: number;
  /** CPU seconds (user + system) of this process since the first message: SQLite works inside it */
  nodeCpuSeconds: number;
  /** PostgreSQL: CPU seconds of the cluster's processes */
  serverCpuSeconds: number | null;
  /** 1-minute load average at the checkpoint (the machine is shared) */
  loadavg: number;
}

export interface Manifest {
  dialect: DialectName;
  options: Omit<GenerateOptions, 'log' | 'corpusDir' | 'serverCpuSeconds' | 'onWriteStart'>;
  startedAt: string;
  finishedAt: string;
  messages: number;
  conversations: number;
  customers: number;
  agents: number;
  tags: Record<string, number>;
  channels: Record<string, number>;
  planted: { orders: number; phones: number; samples: PlantedSample[] };
  bodyChars: number;
  bodyBytes: number;
  setupSeconds: number;
  writeSeconds: number;
  rate: number;
  nodeCpuSeconds: number;
  serverCpuSeconds: number | null;
  checkpoints: Checkpoint[];
  /** --timing-split: seconds indexText took over every message (measured in a second pass, excluded from the rates) */
  tokenizerSeconds: number | null;
  /** time from the end of each transaction's statements to the end of its commit */
  commitSeconds: number;
  timingSplit?: unknown;
  firstAt: number;
  lastAt: number;
}

// ---------------------------------------------------------------- PRNG (sfc32, seeded by splitmix32)
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

// ---------------------------------------------------------------- corpus
type Role = 'customer' | 'agent';
interface Language {
  name: 'zh' | 'en';
  roleSequences: Role[][];
  texts: Record<Role, string[]>;
}

export function loadCorpus(dir: string): { zh: Language; en: Language } {
  const load = (name: 'zh' | 'en'): Language => {
    const lang: Language = { name, roleSequences: [], texts: { customer: [], agent: [] } };
    for (const line of fs.readFileSync(path.join(dir, `stc3_dch_${name}.jsonl`), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const conv = JSON.parse(line) as { turns: Array<{ role: Role; text: string }> };
      lang.roleSequences.push(conv.turns.map((t) => t.role));
      for (const t of conv.turns) lang.texts[t.role].push(t.text);
    }
    return lang;
  };
  return { zh: load('zh'), en: load('en') };
}

// ---------------------------------------------------------------- content helpers
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国波宇浩凯俊帆晨欣怡佳琪雪梅婷颖博文宁健';

const pick = <T>(rng: () => number, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
const digits = (rng: () => number, n: number) => {
  let s = String(1 + Math.floor(rng() * 9));
  while (s.length < n) s += String(Math.floor(rng() * 10));
  return s;
};
function mobile(rng: () => number): string {
  return '1' + pick(rng, ['3', '5', '7', '8', '9']) + digits(rng, 9).slice(0, 9);
}
function writePhone(rng: () => number, p: string): string {
  const r = rng();
  if (r < 0.5) return p;
  const sep = r < 0.75 ? ' ' : '-';
  return `${p.slice(0, 3)}${sep}${p.slice(3, 7)}${sep}${p.slice(7)}`;
}
const ORDER_CUSTOMER_ZH = [(n: string) => `订单号：${n}`, (n: string) => `我的订单${n}怎么还没处理？`, (n: string) => `单号${n}，麻烦查一下`, (n: string) => `订单编号 ${n}`];
const ORDER_AGENT_ZH = [(n: string) => `您好，已为您查询订单${n}。`, (n: string) => `订单${n}已登记，请耐心等待。`];
const ORDER_CUSTOMER_EN = [(n: string) => `Order number: ${n}`, (n: string) => `my order #${n} has not arrived`];
const ORDER_AGENT_EN = [(n: string) => `We have checked order ${n} for you.`];
const PHONE_ZH = [(p: string) => `我的手机号${p}`, (p: string) => `联系电话：${p}`, (p: string) => `电话 ${p}`];
const PHONE_EN = [(p: string) => `my phone number is ${p}`, (p: string) => `call me at ${p}`];

function join(lang: 'zh' | 'en', text: string, extra: string): string {
  return lang === 'zh' ? `${text}，${extra}` : `${text} ${extra}`;
}

// ---------------------------------------------------------------- the generator
interface GenConversation {
  index: number;
  lang: 'zh' | 'en';
  customer: number;
  agent: number | null;
  channel: string;
  tags: string[];
  startedAt: number;
  turns: Array<{ role: Role; text: string; at: number }>;
}

/** Deterministic stream of conversations until `messages` messages (no database). */
export function* conversations(opts: GenerateOptions, corpus: { zh: Language; en: Language }, vip: (customer: number) => boolean, planted: PlantedSample[], sampleEvery: number) {
  const rng = prng(opts.seed);
  const span = ARCHIVE_END - ARCHIVE_START;
  let written = 0;
  let index = 0;
  let orders = 0;
  let phones = 0;
  while (written < opts.messages) {
    const lang = rng() < opts.enShare ? corpus.en : corpus.zh;
    let roles = pick(rng, lang.roleSequences);
    if (roles.length > opts.messages - written) roles = roles.slice(0, opts.messages - written);
    const startedAt = ARCHIVE_START + Math.floor((written / opts.messages) * span) + Math.floor(rng() * 20_000);
    const customer = Math.floor(opts.customers * rng() ** 1.5);
    const hasAgent = roles.includes('agent');
    const agent = hasAgent ? Math.floor(rng() * opts.agents) : null;
    const cr = rng();
    let acc = 0;
    let channel = CHANNELS[CHANNELS.length - 1]![0];
    for (const [name, share] of CHANNELS) {
      acc += share;
      if (cr < acc) {
        channel = name;
        break;
      }
    }
    let at = startedAt;
    const turns = roles.map((role, i) => {
      if (i > 0) at += 10_000 + Math.floor(rng() * 890_000);
      return { role, text: pick(rng, lang.texts[role]), at };
    });
    // planted numbers: into a customer turn (and the order number into the next agent turn, half of the time)
    const customerTurns = turns.map((t, i) => (t.role === 'customer' ? i : -1)).filter((i) => i >= 0);
    if (rng() < opts.orderShare) {
      const n = digits(rng, 12);
      const ti = pick(rng, customerTurns);
      const t = turns[ti]!;
      const text = pick(rng, lang.name === 'zh' ? ORDER_CUSTOMER_ZH : ORDER_CUSTOMER_EN)(n);
      t.text = join(lang.name, t.text, text);
      const reply = turns.findIndex((x, i) => i > ti && x.role === 'agent');
      if (reply >= 0 && rng() < 0.5) turns[reply]!.text = join(lang.name, pick(rng, lang.name === 'zh' ? ORDER_AGENT_ZH : ORDER_AGENT_EN)(n), turns[reply]!.text);
      if (orders++ % sampleEvery === 0) planted.push({ kind: 'order', number: n, written: text, conversationIndex: index, at: t.at });
    }
    if (rng() < opts.phoneShare) {
      const p = mobile(rng);
      const w = writePhone(rng, p);
      const ti = pick(rng, customerTurns);
      const t = turns[ti]!;
      const text = pick(rng, lang.name === 'zh' ? PHONE_ZH : PHONE_EN)(w);
      t.text = join(lang.name, t.text, text);
      if (phones++ % sampleEvery === 0) planted.push({ kind: 'phone', number: p, written: text, conversationIndex: index, at: t.at });
    }
    const tags: string[] = [];
    const customerText = turns.filter((t) => t.role === 'customer').map((t) => t.text).join('\n');
    if (/投诉|complain/i.test(customerText) || rng() < 0.03) tags.push('投诉');
    if (turns.some((t) => /退款|refund/i.test(t.text))) tags.push('退款');
    if (vip(customer)) tags.push('VIP');
    const conv: GenConversation = { index, lang: lang.name, customer, agent, channel, tags, startedAt, turns };
    written += turns.length;
    index++;
    yield { conv, counts: { orders, phones } };
  }
}

export interface GenerateResult {
  manifest: Manifest;
}

function customerName(i: number): string {
  const rng = prng(0x5eed ^ i);
  return pick(rng, [...SURNAMES]) + pick(rng, [...GIVEN]) + (rng() < 0.6 ? pick(rng, [...GIVEN]) : '');
}

async function insertAgents(db: Kysely<Database>, count: number): Promise<string[]> {
  const passwordHash = await hash('bench-password-1', { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  const ids: string[] = [];
  const rows: Database['app_user'][] = [];
  for (let i = 0; i < count; i++) {
    const id = newId('usr');
    ids.push(id);
    const n = String(i + 1).padStart(3, '0');
    rows.push({ id, login: `agent${n}`, display_name: `客服${n}`, password_hash: passwordHash, role: 'agent', status: 'active', department_id: null, created_at: ARCHIVE_START });
  }
  for (let i = 0; i < rows.length; i += 200) await db.insertInto('app_user').values(rows.slice(i, i + 200)).execute();
  return ids;
}

async function setAssignees(trx: Transaction<Database>, rows: Array<[string, string]>): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    const values = sql.join(rows.slice(i, i + 500).map(([c, a]) => sql`(${c}, ${a})`));
    await sql`update conversation set assignee_id = v.column2 from (values ${values}) as v where conversation.id = v.column1`.execute(trx);
  }
}

export async function generateArchive(store: Store, options: Partial<GenerateOptions> = {}): Promise<Manifest> {
  const opts: GenerateOptions = { ...DEFAULTS, ...options };
  const { db, dialect } = store;
  const log = opts.log;
  const startedAt = new Date();
  const existing = await db.selectFrom('message').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  if (Number(existing.n) > 0) throw new Error(`the database already holds ${existing.n} messages: the generator needs an empty one`);

  const corpus = loadCorpus(opts.corpusDir);
  const t0 = performance.now();
  const agentIds = await insertAgents(db, opts.agents);
  const vipLevel = (i: number) => {
    const r = prng(0x71b ^ i)();
    return r < 0.05 ? 1 + Math.floor(r * 60) : 0;
  };
  const customerIds: string[] = new Array(opts.customers);
  for (let i = 0; i < opts.customers; i += 10_000) {
    await db.transaction().execute(async (trx) => {
      for (let k = i; k < Math.min(opts.customers, i + 10_000); k++) {
        const c = await createCustomer(trx, { externalId: `bench-cus-${k}`, name: customerName(k), phone: mobile(prng(0xc0ffee ^ k)), vipLevel: vipLevel(k) });
        customerIds[k] = c.id;
      }
    });
  }
  const setupSeconds = (performance.now() - t0) / 1000;
  log(`[${dialect}] setup: ${opts.agents} agents, ${opts.customers.toLocaleString('en-US')} customers in ${setupSeconds.toFixed(1)} s`);

  const appender = new MessageAppender(db, dialect);
  const planted: PlantedSample[] = [];
  // about 20 samples of each kind over the archive
  const sampleEvery = Math.max(1, Math.floor((opts.messages / 4.5) * opts.orderShare / 20));
  const gen = conversations(opts, corpus, (c) => vipLevel(c) > 0, planted, sampleEvery);
  const tagCounts: Record<string, number> = {};
  const channelCounts: Record<string, number> = {};
  let messages = 0;
  let convCount = 0;
  let bodyChars = 0;
  let bodyBytes = 0;
  let firstAt = Infinity;
  let lastAt = 0;
  let counts = { orders: 0, phones: 0 };
  const checkpoints: Checkpoint[] = [];
  const pendingCheckpoints = opts.checkpoints.filter((c) => c <= opts.messages).sort((a, b) => a - b);
  if (!pendingCheckpoints.includes(opts.messages)) pendingCheckpoints.push(opts.messages);
  let nextProgress = opts.progressEvery;
  opts.onWriteStart?.();
  let tokenizerMs = 0;
  let commitMs = 0;
  // the --timing-split second tokenizer pass is left out of every time and rate
  const clock = () => performance.now() - tokenizerMs;
  const w0 = clock();
  const cpu0 = process.cpuUsage();
  const cpuSeconds = () => {
    const c = process.cpuUsage(cpu0);
    return (c.user + c.system) / 1e6 - tokenizerMs / 1000;
  };
  const server0 = opts.serverCpuSeconds?.() ?? 0;
  const serverCpu = () => (opts.serverCpuSeconds ? opts.serverCpuSeconds() - server0 : null);
  let lastCp = { messages: 0, t: w0 };
  let lastProgress = { messages: 0, t: w0 };
  let done = false;

  while (!done) {
    const batch: GenConversation[] = [];
    while (batch.length < opts.perTx) {
      const next = gen.next();
      if (next.done) {
        done = true;
        break;
      }
      batch.push(next.value.conv);
      counts = next.value.counts;
    }
    if (batch.length === 0) break;
    if (opts.timeTokenizer) {
      const t = performance.now();
      for (const g of batch) for (const turn of g.turns) indexText(turn.text);
      tokenizerMs += performance.now() - t;
    }
    let bodyDone = 0;
    await db.transaction().execute(async (trx) => {
      const inputs: AppendInput[] = [];
      const assignees: Array<[string, string]> = [];
      const tags: Array<{ conversation_id: string; tag: string }> = [];
      for (const g of batch) {
        const customerId = customerIds[g.customer]!;
        const { conversation } = await openConversation(trx, { customerId, channel: g.channel, externalId: `bench-conv-${g.index}`, createdAt: g.startedAt, state: 'closed' });
        const agentId = g.agent === null ? null : agentIds[g.agent]!;
        if (agentId) assignees.push([conversation.id, agentId]);
        for (const tag of g.tags) tags.push({ conversation_id: conversation.id, tag });
        for (const t of g.turns) {
          inputs.push({
            conversationId: conversation.id,
            clientId: null,
            sender: { kind: t.role, id: t.role === 'customer' ? customerId : agentId },
            type: 'text',
            body: t.text,
            createdAt: t.at,
          });
        }
      }
      const results = await appender.appendWithin(trx, inputs);
      const failed = results.find((r): r is AppendError => r instanceof AppendError);
      if (failed) throw failed;
      await setAssignees(trx, assignees);
      for (let i = 0; i < tags.length; i += 500) await trx.insertInto('conversation_tag').values(tags.slice(i, i + 500)).execute();
      bodyDone = performance.now();
    });
    commitMs += performance.now() - bodyDone;
    for (const g of batch) {
      convCount++;
      channelCounts[g.channel] = (channelCounts[g.channel] ?? 0) + 1;
      for (const tag of g.tags) tagCounts[tag] = (tagCounts[tag] ?? 0) + 1;
      for (const t of g.turns) {
        messages++;
        bodyChars += t.text.length;
        bodyBytes += Buffer.byteLength(t.text);
        if (t.at < firstAt) firstAt = t.at;
        if (t.at > lastAt) lastAt = t.at;
      }
    }
    const now = clock();
    if (messages >= nextProgress || done) {
      const server = serverCpu();
      const rate = messages / ((now - w0) / 1000);
      const recent = (messages - lastProgress.messages) / ((now - lastProgress.t) / 1000);
      log(
        `[${dialect}] ${messages.toLocaleString('en-US').padStart(11)} messages, ${convCount.toLocaleString('en-US').padStart(9)} conversations, ` +
          `${((now - w0) / 1000).toFixed(1).padStart(7)} s, ${Math.round(rate).toLocaleString('en-US')} msgs/s overall, ${Math.round(recent).toLocaleString('en-US')} msgs/s recent, ` +
          `node cpu ${cpuSeconds().toFixed(1)} s (${Math.round(messages / cpuSeconds()).toLocaleString('en-US')} msgs per cpu-s)` +
          (server === null ? '' : `, postgres cpu ${server.toFixed(1)} s`) +
          `, load ${os.loadavg()[0]!.toFixed(1)}, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
      );
      lastProgress = { messages, t: now };
      while (nextProgress <= messages) nextProgress += opts.progressEvery;
    }
    while (pendingCheckpoints.length > 0 && messages >= pendingCheckpoints[0]!) {
      pendingCheckpoints.shift();
      const seconds = (now - w0) / 1000;
      const cp: Checkpoint = {
        messages,
        conversations: convCount,
        seconds: Math.round(seconds * 10) / 10,
        rate: Math.round(messages / seconds),
        intervalRate: Math.round((messages - lastCp.messages) / ((now - lastCp.t) / 1000)),
        nodeCpuSeconds: Math.round(cpuSeconds() * 10) / 10,
        serverCpuSeconds: serverCpu() === null ? null : Math.round(serverCpu()! * 10) / 10,
        loadavg: os.loadavg()[0]!,
      };
      checkpoints.push(cp);
      lastCp = { messages, t: now };
      log(`[${dialect}] CHECKPOINT ${messages.toLocaleString('en-US')} messages: ${cp.seconds} s, ${cp.rate.toLocaleString('en-US')} msgs/s (since previous checkpoint ${cp.intervalRate.toLocaleString('en-US')} msgs/s)`);
    }
  }
  const writeSeconds = (clock() - w0) / 1000;
  const { log: _log, corpusDir: _dir, serverCpuSeconds: _s, onWriteStart: _w, ...shown } = opts;
  return {
    dialect,
    options: shown,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    messages,
    conversations: convCount,
    customers: opts.customers,
    agents: opts.agents,
    tags: tagCounts,
    channels: channelCounts,
    planted: { orders: counts.orders, phones: counts.phones, samples: planted },
    bodyChars,
    bodyBytes,
    setupSeconds: Math.round(setupSeconds * 10) / 10,
    writeSeconds: Math.round(writeSeconds * 10) / 10,
    rate: Math.round(messages / writeSeconds),
    nodeCpuSeconds: Math.round(cpuSeconds() * 10) / 10,
    serverCpuSeconds: serverCpu() === null ? null : Math.round(serverCpu()! * 10) / 10,
    checkpoints,
    tokenizerSeconds: opts.timeTokenizer ? Math.round(tokenizerMs / 100) / 10 : null,
    commitSeconds: Math.round(commitMs / 100) / 10,
    firstAt,
    lastAt,
  };
}


async function main() {
  const dialect = (flag('dialect') ?? 'sqlite') as DialectName;
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--dialect must be sqlite or postgres');
  const dir = flag('dir');
  const databaseUrl = flag('database-url');
  if (dialect === 'sqlite' && !dir) throw new Error('--dir is required for sqlite (e.g. /tmp/kefu-bench-sqlite-10m)');
  if (dialect === 'postgres' && !databaseUrl) throw new Error('--database-url is required for postgres (start one with npx tsx bench/pg-cluster.ts)');
  const options: Partial<GenerateOptions> = {
    messages: num('messages', DEFAULTS.messages),
    customers: num('customers', DEFAULTS.customers),
    agents: num('agents', DEFAULTS.agents),
    perTx: num('per-tx', DEFAULTS.perTx),
    seed: num('seed', DEFAULTS.seed),
    enShare: num('en-share', DEFAULTS.enShare),
    progressEvery: num('progress-every', DEFAULTS.progressEvery),
    corpusDir: flag('corpus-dir') ? path.resolve(flag('corpus-dir')!) : DEFAULTS.corpusDir,
    timeTokenizer: flag('timing-split') === 'true',
  };
  const timingSplit = flag('timing-split') === 'true';
  const manifestFile = flag('manifest') ?? (dialect === 'sqlite' ? path.join(dir!, 'manifest.json') : path.join(ROOT, 'bench/out/pg-archive-manifest.json'));
  const store = await openStore(dialect === 'sqlite' ? { dataDir: dir! } : { databaseUrl, dataDir: '/nonexistent' });
  if (dialect === 'postgres') options.serverCpuSeconds = await clusterCpu(store.db);
  // --timing-split: the same connection(s) through a Kysely that logs every statement's execution time
  const split = new Map<string, { n: number; ms: number }>();
  let splitDb: Kysely<Database> | undefined;
  if (timingSplit) {
    const onLog = (e: LogEvent) => {
      const key = statementKind(e.query.sql);
      const v = split.get(key) ?? { n: 0, ms: 0 };
      v.n += 1;
      v.ms += e.queryDurationMillis;
      split.set(key, v);
    };
    options.onWriteStart = () => split.clear();
    splitDb =
      dialect === 'sqlite'
        ? new Kysely<Database>({ dialect: new SqliteDialect({ database: store.sqlite! }), log: onLog })
        : new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 10 }) }), log: onLog });
  }
  try {
    const manifest = await generateArchive(splitDb ? { ...store, db: splitDb } : store, options);
    if (timingSplit) {
      const total = manifest.writeSeconds;
      const rows = [...split].sort((a, b) => b[1].ms - a[1].ms);
      const sqlMs = rows.reduce((a, [, v]) => a + v.ms, 0);
      console.log(`[${dialect}] timing split over ${manifest.messages.toLocaleString('en-US')} messages, ${total} s of writing (the tokenizer's share measured in a separate pass):`);
      console.log(`  tokenizer (indexText)            ${manifest.tokenizerSeconds!.toFixed(1).padStart(7)} s  ${((100 * manifest.tokenizerSeconds!) / total).toFixed(1).padStart(5)} %`);
      for (const [k, v] of rows) console.log(`  ${k.padEnd(32)} ${(v.ms / 1000).toFixed(1).padStart(7)} s  ${((v.ms / 10) / total).toFixed(1).padStart(5)} %  (${v.n.toLocaleString('en-US')} statements)`);
      const rest = total - manifest.tokenizerSeconds! - sqlMs / 1000;
      console.log(`  all statements (incl. prepare, commit) ${(sqlMs / 1000).toFixed(1).padStart(7)} s  ${((sqlMs / 10) / total).toFixed(1).padStart(5)} %`);
      console.log(`  rest (JS: Kysely query building, hashing, ids, generator, GC) ${rest.toFixed(1)} s  ${((100 * rest) / total).toFixed(1)} %`);
      manifest.timingSplit = { tokenizerSeconds: manifest.tokenizerSeconds, commitSeconds: manifest.commitSeconds, statements: Object.fromEntries(rows.map(([k, v]) => [k, { n: v.n, seconds: Math.round(v.ms) / 1000 }])) };
    }
    if (dialect === 'postgres') {
      // what autovacuum would reach after a bulk load; done now so it does not run during the search measurements
      const t = performance.now();
      await sql`vacuum analyze`.execute(store.db);
      console.log(`[postgres] vacuum analyze: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    if (dialect === 'sqlite') store.sqlite!.pragma('wal_checkpoint(TRUNCATE)');
    fs.mkdirSync(path.dirname(manifestFile), { recursive: true });
    fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`[${dialect}] done: ${manifest.messages.toLocaleString('en-US')} messages, ${manifest.conversations.toLocaleString('en-US')} conversations in ${manifest.writeSeconds} s = ${manifest.rate.toLocaleString('en-US')} msgs/s; manifest ${manifestFile}`);
    console.log(JSON.stringify({ checkpoints: manifest.checkpoints, rate: manifest.rate, setupSeconds: manifest.setupSeconds }));
  } finally {
    if (splitDb && dialect === 'postgres') await splitDb.destroy();
    await store.close();
  }
}

/** `insert message`, `select conversation`, … from a statement's text */
function statementKind(text: string): string {
  const t = text.toLowerCase().replace(/"/g, '').replace(/\s+/g, ' ').trim();
  let m = /^(insert into|update|delete from) (\w+)/.exec(t);
  if (m) return `${m[1]!.split(' ')[0]} ${m[2]}`;
  m = /^select .*? from (\w+)/.exec(t);
  if (m) return `select ${m[1]}`;
  return t.slice(0, 30);
}

/** CPU seconds used by a PostgreSQL cluster: the postmaster, its live children, and its exited (waited-for) children */
async function clusterCpu(db: Kysely<Database>): Promise<() => number> {
  const { rows } = await sql<{ setting: string }>`select setting from pg_settings where name = 'data_directory'`.execute(db);
  const postmaster = Number(fs.readFileSync(path.join(rows[0]!.setting, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const fields = (pid: number) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  return () => {
    let ticks = 0;
    try {
      const f = fields(postmaster);
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      for (const tid of fs.readdirSync(`/proc/${postmaster}/task`)) {
        for (const child of fs.readFileSync(`/proc/${postmaster}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean)) {
          try {
            const c = fields(Number(child));
            ticks += Number(c[11]) + Number(c[12]);
          } catch {
            // exited meanwhile: its time moves to the postmaster's cutime once reaped
          }
        }
      }
    } catch {
      return NaN;
    }
    return ticks / 100;
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
