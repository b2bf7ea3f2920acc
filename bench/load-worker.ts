/**
 * One load-generator process of bench/message-path.ts (forked by it; not meant to be run by hand).
 *
 * It holds a share of the simulated customers (one socket each, one conversation each) and of the agents (one socket
 * each), and runs the phases the parent asks for over IPC. Every message text starts with the sender's CLOCK_MONOTONIC
 * timestamp in µs, the conversation's index and the phase tag (`<µs>|<conversation>|<tag>|text`), so whichever process
 * receives the `message:new` can compute the latency and tell whether it is the intended recipient:
 *   - customer→agent: the conversation's own agent (conversation index mod agent count); every other agent also gets the
 *     event through the 'agents' room — counted as fan-out and measured separately;
 *   - agent→customer: the conversation's customer.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io as connect, type Socket } from 'socket.io-client';
import { Histogram, nowUs, type HistogramJson } from './lib/stats.ts';

export type Tag = 'o' | 'c' | 't' | 'l' | 'p';

export interface InitMsg {
  type: 'init';
  workerId: number;
  url: string;
  numAgents: number;
  customers: number[];
  agents: Array<{ index: number; cookie?: string }>;
  concurrency: number;
}
export interface AssignMsg {
  type: 'assign';
  /** per agent index held by this worker: [conversation index, conversationId][] */
  agentConversations: Record<number, Array<[number, string]>>;
}
export interface RunMsg {
  type: 'run';
  mode: 'throughput' | 'live';
  startAt: number;
  from: number;
  to: number;
  /** throughput: messages in flight per conversation and direction */
  window: number;
  /** live: total conversations (to spread send phases uniformly over the second) */
  totalConversations: number;
  /** only conversations with a smaller index take part */
  activeConversations: number;
  settleMs: number;
}

export interface PhaseResult {
  workerId: number;
  sent: { c2a: number; a2c: number };
  /** owner deliveries of messages sent inside the window */
  delivered: { c2a: number; a2c: number };
  /** owner deliveries received inside the window (throughput counts these) */
  receivedInWindow: { c2a: number; a2c: number };
  ackedInWindow: number;
  ackErrors: number;
  /** every message:new received by any socket inside the window */
  eventsInWindow: number;
  lat: { c2a: HistogramJson; a2c: HistogramJson; c2aAnyAgent: HistogramJson };
  ack: { c2a: HistogramJson; a2c: HistogramJson };
  scheduleLag: HistogramJson;
  maxOutstanding: number;
  undrained: number;
  cpuSeconds: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  disconnects: number;
}

const FILLER = '您好，我上周下的订单还没有发货，能帮我查一下物流吗？谢谢';

interface Customer {
  index: number;
  socket: Socket;
  conversationId: string;
}
interface Agent {
  index: number;
  socket: Socket;
  convs: Array<{ index: number; conversationId: string }>;
  rr: number;
}

class Phase {
  sent = { c2a: 0, a2c: 0 };
  delivered = { c2a: 0, a2c: 0 };
  receivedInWindow = { c2a: 0, a2c: 0 };
  ackedInWindow = 0;
  ackErrors = 0;
  eventsInWindow = 0;
  lat = { c2a: new Histogram(), a2c: new Histogram(), c2aAnyAgent: new Histogram() };
  ack = { c2a: new Histogram(), a2c: new Histogram() };
  scheduleLag = new Histogram();
  outstanding = 0;
  maxOutstanding = 0;
  cpuFrom: NodeJS.CpuUsage | null = null;
  /** fan-out probe: which agent sockets got the probe message */
  probeAgents = new Set<number>();
  cpuSeconds = 0;
  constructor(
    readonly tag: Tag,
    readonly from: number,
    readonly to: number,
    readonly stopAt: number,
  ) {}
  inWindow(t: number) {
    return t >= this.from && t < this.to;
  }
}

let workerId = 0;
let url = '';
let numAgents = 1;
let clientSeq = 0;
let disconnects = 0;
let closing = false;
const customers: Customer[] = [];
const agents: Agent[] = [];
let phase: Phase | null = null;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function send(msg: unknown) {
  process.send!(msg);
}

function fail(err: unknown): never {
  send({ type: 'error', workerId, error: err instanceof Error ? err.message : String(err) });
  setTimeout(() => process.exit(1), 100);
  throw err;
}

/** connects; `before` runs before any packet can arrive, so listeners it adds miss nothing (the server's first
 * events can come in the same read as the CONNECT packet) */
function open(ns: 'customer' | 'agent', cookie: string | undefined, before: (s: Socket) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(`${url}/${ns}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 30000,
      ...(cookie ? { extraHeaders: { cookie } } : {}),
    });
    before(socket);
    const timer = setTimeout(() => reject(new Error(`${ns} connect timed out`)), 30000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.on('disconnect', () => {
        if (!closing) disconnects += 1;
      });
      resolve(socket);
    });
    socket.once('connect_error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** runs fn over items with at most `limit` in flight */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(runners);
}

function ackOnce<T>(socket: Socket, event: string, payload: unknown, timeoutMs = 30000): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

/** `<µs>|<conversation>|<tag>|…` → [sentUs, conversation index, tag char] without allocating much */
function parseText(text: string): [number, number, string] | null {
  if (typeof text !== 'string') return null;
  const a = text.indexOf('|');
  const b = text.indexOf('|', a + 1);
  if (a < 0 || b < 0) return null;
  return [Number(text.slice(0, a)), Number(text.slice(a + 1, b)), text[b + 1]!];
}

interface View {
  sender: { kind: string };
  text: string;
}

function onAgentMessage(agent: Agent, v: View) {
  const ph = phase;
  if (!ph) return;
  const t = nowUs();
  if (ph.inWindow(t)) ph.eventsInWindow += 1;
  if (v.sender.kind !== 'customer') return;
  const parsed = parseText(v.text);
  if (!parsed || parsed[2] !== ph.tag) return;
  const [sentUs, conv] = parsed;
  if (ph.tag === 'p') {
    ph.probeAgents.add(agent.index);
    return;
  }
  const sentInWindow = ph.inWindow(sentUs);
  if (sentInWindow) ph.lat.c2aAnyAgent.record(t - sentUs);
  if (conv % numAgents !== agent.index) return;
  if (sentInWindow) {
    ph.lat.c2a.record(t - sentUs);
    ph.delivered.c2a += 1;
  }
  if (ph.inWindow(t)) ph.receivedInWindow.c2a += 1;
}

function onCustomerMessage(v: View) {
  const ph = phase;
  if (!ph) return;
  const t = nowUs();
  if (ph.inWindow(t)) ph.eventsInWindow += 1;
  if (v.sender.kind !== 'agent') return;
  const parsed = parseText(v.text);
  if (!parsed || parsed[2] !== ph.tag) return;
  const sentUs = parsed[0];
  if (ph.inWindow(sentUs)) {
    ph.lat.a2c.record(t - sentUs);
    ph.delivered.a2c += 1;
  }
  if (ph.inWindow(t)) ph.receivedInWindow.a2c += 1;
}

type Reply = { ok: boolean; error?: string };

function emitMessage(ph: Phase, dir: 'c2a' | 'a2c', socket: Socket, conversationId: string, convIndex: number, after?: () => void) {
  const t = nowUs();
  const inWin = ph.inWindow(t);
  if (inWin) ph.sent[dir] += 1;
  ph.outstanding += 1;
  if (ph.outstanding > ph.maxOutstanding) ph.maxOutstanding = ph.outstanding;
  socket.emit('message:send', { conversationId, clientId: `w${workerId}.${++clientSeq}`, text: `${t}|${convIndex}|${ph.tag}|${FILLER}` }, (r: Reply) => {
    const now = nowUs();
    ph.outstanding -= 1;
    if (!r || !r.ok) ph.ackErrors += 1;
    else {
      if (inWin) ph.ack[dir].record(now - t);
      if (ph.inWindow(now)) ph.ackedInWindow += 1;
    }
    if (after) after();
  });
}

async function init(m: InitMsg) {
  workerId = m.workerId;
  url = m.url;
  numAgents = m.numAgents;
  for (const a of m.agents) {
    const agent = { index: a.index, convs: [], rr: 0 } as unknown as Agent;
    agent.socket = await open('agent', a.cookie, (s) => s.on('message:new', (v: View) => onAgentMessage(agent, v)));
    agents.push(agent);
  }
  const opened: Array<[number, string]> = [];
  await pool(m.customers, m.concurrency, async (index) => {
    let gotSession!: () => void;
    const session = new Promise<void>((resolve) => (gotSession = resolve));
    const socket = await open('customer', undefined, (s) => {
      s.once('session', () => gotSession());
      s.on('message:new', (v: View) => onCustomerMessage(v));
    });
    await session;
    const r = await ackOnce<Reply & { conversationId: string }>(socket, 'message:send', { clientId: `w${m.workerId}.open.${index}`, text: `${nowUs()}|${index}|o|${FILLER}` });
    if (!r.ok) throw new Error(`opening conversation ${index} failed: ${r.error}`);
    customers.push({ index, socket, conversationId: r.conversationId });
    opened.push([index, r.conversationId]);
  });
  send({ type: 'opened', workerId, conversations: opened });
}

async function assign(m: AssignMsg) {
  const jobs: Array<{ agent: Agent; index: number; conversationId: string }> = [];
  for (const agent of agents) {
    for (const [index, conversationId] of m.agentConversations[agent.index] ?? []) {
      agent.convs.push({ index, conversationId });
      jobs.push({ agent, index, conversationId });
    }
  }
  // the first agent reply assigns the conversation to that agent (kefu); this keeps the claim out of the measurements
  await pool(jobs, 64, async (j) => {
    const r = await ackOnce<Reply>(j.agent.socket, 'message:send', { conversationId: j.conversationId, clientId: `w${workerId}.claim.${j.index}`, text: `${nowUs()}|${j.index}|c|${FILLER}` });
    if (!r.ok) throw new Error(`first reply in conversation ${j.index} failed: ${r.error}`);
  });
  send({ type: 'assigned', workerId });
}

/** one customer message in conversation 0: which agent sockets receive it shows the server's fan-out */
async function probe() {
  const ph = new Phase('p', 0, Infinity, Infinity);
  phase = ph;
  const c = customers.find((x) => x.index === 0);
  if (c) emitMessage(ph, 'c2a', c.socket, c.conversationId, c.index);
  await new Promise((r) => setTimeout(r, 1500));
  phase = null;
  send({ type: 'probed', workerId, agents: [...ph.probeAgents] });
}

function startThroughput(ph: Phase, window: number, active: number) {
  for (const c of customers) {
    if (c.index >= active) continue;
    const again = () => {
      if (nowUs() < ph.stopAt) emitMessage(ph, 'c2a', c.socket, c.conversationId, c.index, again);
    };
    for (let i = 0; i < window; i++) again();
  }
  for (const a of agents) {
    const convs = a.convs.filter((c) => c.index < active);
    if (convs.length === 0) continue;
    const again = () => {
      if (nowUs() >= ph.stopAt) return;
      const c = convs[a.rr++ % convs.length]!;
      emitMessage(ph, 'a2c', a.socket, c.conversationId, c.index, again);
    };
    for (let i = 0; i < window * convs.length; i++) again();
  }
}

function startLive(ph: Phase, startAt: number, totalConversations: number, active: number) {
  // every conversation sends once a second in each direction; customers at phase i/C of the second, agents half a
  // second later, so the sends of all processes together are spread uniformly over the second
  const items: Array<{ phaseUs: number; fire: () => void }> = [];
  for (const c of customers) {
    if (c.index >= active) continue;
    items.push({ phaseUs: (c.index / totalConversations) * 1e6, fire: () => emitMessage(ph, 'c2a', c.socket, c.conversationId, c.index) });
  }
  for (const a of agents) {
    for (const c of a.convs) {
      if (c.index >= active) continue;
      items.push({ phaseUs: ((c.index / totalConversations + 0.5) % 1) * 1e6, fire: () => emitMessage(ph, 'a2c', a.socket, c.conversationId, c.index) });
    }
  }
  items.sort((x, y) => x.phaseUs - y.phaseUs);
  if (items.length === 0) return;
  let period = 0;
  let p = 0;
  const tick = () => {
    const now = nowUs();
    for (;;) {
      const due = startAt + period * 1e6 + items[p]!.phaseUs;
      if (due >= ph.stopAt) return;
      if (due > now) {
        setTimeout(tick, Math.max(1, Math.floor((due - now) / 1000)));
        return;
      }
      if (ph.inWindow(due)) ph.scheduleLag.record(now - due);
      items[p]!.fire();
      if (++p === items.length) {
        p = 0;
        period += 1;
      }
    }
  };
  tick();
}

async function run(m: RunMsg) {
  const ph = new Phase(m.mode === 'live' ? 'l' : 't', m.from, m.to, m.to);
  phase = ph;
  const at = (us: number, fn: () => void) => setTimeout(fn, Math.max(0, (us - nowUs()) / 1000));
  at(m.from, () => {
    ph.cpuFrom = process.cpuUsage();
    loopDelay.reset();
  });
  let loopStats = { p50: 0, p99: 0, max: 0 };
  at(m.to, () => {
    const d = process.cpuUsage(ph.cpuFrom ?? undefined);
    ph.cpuSeconds = (d.user + d.system) / 1e6;
    loopStats = { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  });
  await new Promise<void>((resolve) => at(m.startAt, resolve));
  if (m.mode === 'throughput') startThroughput(ph, m.window, m.activeConversations);
  else startLive(ph, m.startAt, m.totalConversations, m.activeConversations);

  await new Promise<void>((resolve) => at(m.to, resolve));
  // let what is in flight come back (acks, then the deliveries sent before them)
  const deadline = nowUs() + 30e6;
  while (ph.outstanding > 0 && nowUs() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, m.settleMs));
  phase = null;
  const result: PhaseResult = {
    workerId,
    sent: ph.sent,
    delivered: ph.delivered,
    receivedInWindow: ph.receivedInWindow,
    ackedInWindow: ph.ackedInWindow,
    ackErrors: ph.ackErrors,
    eventsInWindow: ph.eventsInWindow,
    lat: { c2a: ph.lat.c2a.toJSON(), a2c: ph.lat.a2c.toJSON(), c2aAnyAgent: ph.lat.c2aAnyAgent.toJSON() },
    ack: { c2a: ph.ack.c2a.toJSON(), a2c: ph.ack.a2c.toJSON() },
    scheduleLag: ph.scheduleLag.toJSON(),
    maxOutstanding: ph.maxOutstanding,
    undrained: ph.outstanding,
    cpuSeconds: ph.cpuSeconds,
    eventLoopDelayMs: loopStats,
    disconnects,
  };
  send({ type: 'result', workerId, result });
}

process.on('message', (m: InitMsg | AssignMsg | RunMsg | { type: 'close' } | { type: 'probe' }) => {
  if (m.type === 'init') init(m).catch(fail);
  else if (m.type === 'probe') probe().catch(fail);
  else if (m.type === 'assign') assign(m).catch(fail);
  else if (m.type === 'run') run(m).catch(fail);
  else if (m.type === 'close') {
    closing = true;
    for (const c of customers) c.socket.disconnect();
    for (const a of agents) a.socket.disconnect();
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
