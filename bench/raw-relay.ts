/**
 * The baseline for bench/message-path.ts: a bare socket.io relay with kefu's two namespaces, event names, payload
 * shapes and room fan-out, but no database, no validation and no authentication. It acks every `message:send` at once
 * and broadcasts `message:new` to the customer's room and to the staff room(s), like kefu's gateway:
 *   --fanout all       every agent socket is in the room 'agents' and gets every message (docs/PROTOCOL.md);
 *   --fanout assigned  the first agent to write in a conversation is its assignee; from then on its messages go to
 *                      that agent's room only (before that, to the 'queue' room that every agent is in).
 *
 *   node --import tsx bench/raw-relay.ts [--port 0] [--host 127.0.0.1] [--fanout all|assigned]
 *
 * Prints `raw-relay listening <port>` when ready. GET /stats returns its CPU use and event-loop delay since the last
 * call. SIGTERM/SIGINT stop it.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Server } from 'socket.io';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const port = Number(arg('port', '0'));
const host = arg('host', '127.0.0.1');
const fanout = arg('fanout', 'all');
if (fanout !== 'all' && fanout !== 'assigned') throw new Error('--fanout must be all or assigned');

const AGENTS_ROOM = 'agents';
const QUEUE_ROOM = 'queue';
const userRoom = (agentId: string) => `user:${agentId}`;
const customerRoom = (customerId: string) => `customer:${customerId}`;
// kefu's MessageView carries a 64-hex hash; send the same number of bytes so the wire cost is comparable
const FAKE_HASH = '0'.repeat(64);

let nextId = 0;
const newId = (prefix: string) => `${prefix}_${(++nextId).toString(36).padStart(10, '0')}${randomBytes(8).toString('base64url')}`;

interface Conv {
  id: string;
  customerId: string;
  seq: number;
  assigneeId: string | null;
}
const conversations = new Map<string, Conv>();

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let cpuMark = process.cpuUsage();

const httpServer = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  if (req.url === '/stats') {
    const cpu = process.cpuUsage(cpuMark);
    cpuMark = process.cpuUsage();
    const body = {
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      eventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      conversations: conversations.size,
    };
    loop.reset();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return;
  }
  res.writeHead(404).end();
});

const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 1024 * 1024, cors: { origin: true, credentials: true } });
const customers = io.of('/customer');
const agents = io.of('/agent');

type Ack = (reply: unknown) => void;
const ackOf = (a: unknown): Ack => (typeof a === 'function' ? (a as Ack) : () => {});

function staffRoom(conv: Conv): string {
  if (fanout === 'all') return AGENTS_ROOM;
  return conv.assigneeId ? userRoom(conv.assigneeId) : QUEUE_ROOM;
}

function publish(conv: Conv, clientId: unknown, sender: { kind: string; id: string | null }, text: unknown) {
  conv.seq += 1;
  const view = {
    conversationId: conv.id,
    messageId: newId('msg'),
    seq: conv.seq,
    clientId: typeof clientId === 'string' ? clientId : null,
    sender,
    type: 'text',
    text,
    createdAt: new Date().toISOString(),
    hash: FAKE_HASH,
  };
  customers.to(customerRoom(conv.customerId)).emit('message:new', view);
  agents.to(staffRoom(conv)).emit('message:new', view);
  return view;
}

customers.on('connection', (socket) => {
  const offered = (socket.handshake.auth as { visitorToken?: unknown } | undefined)?.visitorToken;
  const visitorToken = typeof offered === 'string' && offered.length === 43 ? offered : randomBytes(32).toString('base64url');
  let customerId: string | null = null;
  socket.emit('session', { visitorToken, customerId, conversations: [] });

  socket.on('message:send', (p: { conversationId?: string; clientId?: string; text?: string }, ack?: unknown) => {
    const reply = ackOf(ack);
    if (!customerId) {
      customerId = newId('cus');
      socket.join(customerRoom(customerId));
    }
    let conv = p?.conversationId ? conversations.get(p.conversationId) : undefined;
    if (p?.conversationId && (!conv || conv.customerId !== customerId)) {
      reply({ ok: false, code: 'conversation_not_found', error: 'no such conversation' });
      return;
    }
    if (!conv) {
      conv = { id: newId('conv'), customerId, seq: 0, assigneeId: null };
      conversations.set(conv.id, conv);
      agents.to(staffRoom(conv)).emit('conversation:new', { id: conv.id, customerId, state: 'queued', lastSeq: 0 });
    }
    const view = publish(conv, p?.clientId, { kind: 'customer', id: customerId }, p?.text);
    reply({ ok: true, conversationId: conv.id, messageId: view.messageId, seq: view.seq, visitorToken });
  });
});

agents.on('connection', (socket) => {
  const agentId = newId('usr');
  socket.join(fanout === 'all' ? [AGENTS_ROOM] : [QUEUE_ROOM, userRoom(agentId)]);
  socket.on('message:send', (p: { conversationId?: string; clientId?: string; text?: string }, ack?: unknown) => {
    const reply = ackOf(ack);
    const conv = p?.conversationId ? conversations.get(p.conversationId) : undefined;
    if (!conv) {
      reply({ ok: false, code: 'conversation_not_found', error: 'no such conversation' });
      return;
    }
    const view = publish(conv, p?.clientId, { kind: 'agent', id: agentId }, p?.text);
    // like kefu: the first agent to reply takes the conversation
    if (conv.assigneeId === null) conv.assigneeId = agentId;
    reply({ ok: true, conversationId: conv.id, messageId: view.messageId, seq: view.seq });
  });
});

httpServer.listen(port, host, () => {
  const addr = httpServer.address();
  process.stdout.write(`raw-relay listening ${typeof addr === 'object' && addr ? addr.port : port} (fan-out: ${fanout})\n`);
});

const stop = () => {
  io.disconnectSockets(true);
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
