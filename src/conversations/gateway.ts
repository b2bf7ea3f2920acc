import type { Namespace, Server, Socket } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Database } from '../store/index.ts';
import { findOrCreateVisitor, findVisitor, getCustomer, isWellFormedVisitorToken, newVisitorToken } from '../customers/index.ts';
import { SESSION_COOKIE, fullSessionIds, groupDepartments, lookupSession, type AuditLog, type SessionEndings } from '../governance/index.ts';
import { canReadConversation, writeScope, grantUsedFor, sensitiveAmong, unreadableAs, viewerOf, type Viewer } from '../governance/policies/conversations.ts';
import { AppendError, type ConversationRouting, type MessageAppender, type StoredMessage } from './appender.ts';
import { type Conversation, type ConversationUpdates, claimIfUnassigned, getConversation, getConversationIf, reopenIfResolved, listCustomerConversations, listMessagesAfter, markRead, openConversation } from './conversations.ts';
import { agentSendSchema, customerSendSchema, describeZodError, readSchema, syncSchema, typingSchema } from './payloads.ts';
import { presentConversation, presentMessage } from './presenters.ts';

export const customerRoom = (customerId: string) => `customer:${customerId}`;

/**
 * Staff sockets join rooms that mirror the read policy (governance/policies/conversations.ts): their own, their
 * groups', their department's (supervisors), the general queue, and all but the sensitive (auditors). A conversation's
 * events go to the rooms of who may read it. Readers through a grant get no live events: they read on demand.
 */
const room = {
  user: (id: string) => `user:${id}`,
  group: (id: string) => `group:${id}`,
  department: (id: string) => `department:${id}`,
  queue: 'queue',
  auditors: 'auditors',
};

function staffRooms(v: Viewer): string[] {
  const rooms = [room.user(v.id)];
  if (v.role === 'agent' || v.role === 'supervisor') {
    rooms.push(room.queue, ...v.groupIds.map(room.group));
    if (v.role === 'supervisor' && v.departmentId) rooms.push(room.department(v.departmentId));
  }
  if (v.role === 'auditor') rooms.push(room.auditors);
  return rooms;
}

type Ack = (reply: unknown) => void;
type Failure = { ok: false; error: string; code: string };

function fail(code: string, error: string): Failure {
  return { ok: false, error, code };
}

class Refusal extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
  }
}

function parse<S extends z.ZodType>(schema: S, payload: unknown): z.infer<S> {
  const r = schema.safeParse(payload);
  if (!r.success) throw new Refusal('invalid_payload', describeZodError(r.error));
  return r.data;
}

export interface GatewayDeps {
  io: Server;
  db: Kysely<Database>;
  appender: MessageAppender;
  updates: ConversationUpdates;
  audit: AuditLog;
  log: Logger;
  /** how often the sessions of open staff sockets are checked again (revocations by the CLI or another node) */
  sessionCheckMs: number;
  /** sessions ended by this process: their sockets are checked at once */
  sessionEndings?: SessionEndings;
  /** the clock sessions are judged by (the auth policy's) */
  now?: () => number;
}

/** Every event a client may send, per namespace: the authorisation matrix test insists each one has an entry. */
export const clientEvents = { customer: new Set<string>(), agent: new Set<string>() };

/**
 * Wraps an event handler so that nothing a client sends can crash the process or leave an ack unanswered:
 * refusals and unexpected errors both become {ok: false, error}.
 */
function handle(socket: Socket, event: string, log: Logger, fn: (payload: unknown) => Promise<unknown>) {
  clientEvents[socket.nsp.name === '/agent' ? 'agent' : 'customer'].add(event);
  socket.on(event, async (payload: unknown, ack?: unknown) => {
    const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => {};
    try {
      reply(await fn(payload));
    } catch (err) {
      if (err instanceof Refusal) reply(fail(err.code, err.message));
      else if (err instanceof AppendError) reply(fail(err.code, err.message));
      else {
        log.error({ err, event }, 'socket handler failed');
        reply(fail('internal_error', 'the server could not process this event; nothing was stored'));
      }
    }
  });
}

export function attachGateway({ io, db, appender, updates, audit, log, sessionCheckMs, sessionEndings, now = Date.now }: GatewayDeps): { stop(): void } {
  const customers = io.of('/customer');
  const agents = io.of('/agent');

  // group → department and user → department, refreshed in the background: routing live events must not query per message
  let groupDept = new Map<string, string | null>();
  let userDept = new Map<string, string | null>();
  const refreshOrg = async () => {
    groupDept = await groupDepartments(db);
    const users = await db.selectFrom('app_user').select(['id', 'department_id']).execute();
    userDept = new Map(users.map((u) => [u.id, u.department_id]));
  };
  void refreshOrg().catch((err) => log.warn({ err }, 'org routing not loaded'));
  const orgTimer = setInterval(() => void refreshOrg().catch(() => {}), 10_000);
  orgTimer.unref();

  /** the rooms of the staff who serve a conversation; auditors are added by the callers that know it is not sensitive */
  const roomsOf = (r: ConversationRouting): string[] => {
    const rooms: string[] = [];
    if (r.assigneeId) {
      rooms.push(room.user(r.assigneeId));
      const d = userDept.get(r.assigneeId);
      if (d) rooms.push(room.department(d));
    }
    if (r.groupId) {
      rooms.push(room.group(r.groupId));
      const d = groupDept.get(r.groupId);
      if (d) rooms.push(room.department(d));
    }
    if (!r.assigneeId && !r.groupId) rooms.push(room.queue);
    return rooms;
  };
  const toStaffOf = (r: ConversationRouting) => agents.to(roomsOf(r));
  /** the serving staff, and the auditors unless the conversation is sensitive */
  const toReadersOf = (r: ConversationRouting, sensitive: boolean) => agents.to(sensitive ? roomsOf(r) : [...roomsOf(r), room.auditors]);

  // one sensitivity lookup per committed batch; the chain keeps batches in commit order for the auditors
  let auditorsFeed = Promise.resolve();
  appender.on('committed', (messages: StoredMessage[], routing: Map<string, ConversationRouting>) => {
    const views = messages.map((m) => ({ m, view: presentMessage(m, 'staff'), r: routing.get(m.conversationId) ?? { assigneeId: null, groupId: null } }));
    for (const { m, view, r } of views) {
      customers.to(customerRoom(m.customerId)).emit('message:new', presentMessage(m, 'customer'));
      toStaffOf(r).emit('message:new', view);
    }
    // socket.io encodes a packet before it looks for the room's sockets: with no auditor online, no lookup and no
    // third encoding per message
    if (nobodyIn(agents, room.auditors)) return;
    auditorsFeed = auditorsFeed
      .then(() => sensitiveAmong(db, messages.map((m) => m.conversationId)))
      .then((sensitive) => {
        for (const { m, view, r } of views) if (!sensitive.has(m.conversationId)) agents.to(room.auditors).except(roomsOf(r)).emit('message:new', view);
      })
      .catch((err) => log.warn({ err }, 'live messages not sent to auditors'));
  });

  updates.on('updated', (c) => {
    void Promise.all([getCustomer(db, c.customerId), sensitiveAmong(db, [c.id])])
      .then(([customer, sensitive]) => {
        const view = presentConversation({ ...c, customerName: customer?.name });
        // the queue learns that a conversation left it (claimed, moved to a group)
        agents.to([...roomsOf(c), room.queue, ...(sensitive.has(c.id) ? [] : [room.auditors])]).emit('conversation:updated', view);
        customers.to(customerRoom(c.customerId)).emit('conversation:updated', { id: c.id, state: c.state });
      })
      .catch((err) => log.warn({ err }, 'conversation update not broadcast'));
  });

  // ---- customers: anonymous visitors identified by a server-issued token ----
  // a conversation's customer never changes, so a customer's message needs no read of the conversation to check it
  const ownerOf = new ConversationOwners();
  const ownedBy = async (conversationId: string, customerId: string | null) => {
    let owner = ownerOf.get(conversationId);
    if (owner === undefined) {
      const c = await getConversation(db, conversationId);
      if (c) ownerOf.remember(c.id, (owner = c.customerId));
    }
    if (owner === undefined || owner !== customerId) throw new Refusal('conversation_not_found', `conversation ${conversationId} does not exist or is not yours`);
  };

  customers.use(async (socket, next) => {
    try {
      const offered = (socket.handshake.auth as { visitorToken?: unknown } | undefined)?.visitorToken;
      const token = isWellFormedVisitorToken(offered) ? offered : newVisitorToken();
      socket.data.visitorToken = token;
      const customer = isWellFormedVisitorToken(offered) ? await findVisitor(db, token) : undefined;
      socket.data.customerId = customer?.id ?? null;
      next();
    } catch (err) {
      log.error({ err }, 'customer handshake failed');
      next(new Error('handshake failed'));
    }
  });

  customers.on('connection', async (socket) => {
    const customerId: string | null = socket.data.customerId;
    if (customerId) socket.join(customerRoom(customerId));
    // each conversation's lastSeq counts every acknowledged message
    if (customerId) await appender.settled();
    const conversations = customerId ? await listCustomerConversations(db, customerId).catch(() => []) : [];
    socket.emit('session', {
      visitorToken: socket.data.visitorToken,
      customerId,
      conversations: conversations.map((c) => ({ id: c.id, state: c.state, lastSeq: c.lastSeq, createdAt: new Date(c.createdAt).toISOString() })),
    });

    const ownConversation = async (conversationId: string) => {
      const c = await getConversation(db, conversationId);
      if (c) ownerOf.remember(c.id, c.customerId);
      if (!c || c.customerId !== socket.data.customerId) throw new Refusal('conversation_not_found', `conversation ${conversationId} does not exist or is not yours`);
      return c;
    };

    handle(socket, 'message:send', log, async (payload) => {
      const p = parse(customerSendSchema, payload);
      if (!socket.data.customerId) {
        const customer = await findOrCreateVisitor(db, socket.data.visitorToken);
        socket.data.customerId = customer.id;
        socket.join(customerRoom(customer.id));
      }
      let conversationId = p.conversationId;
      if (conversationId) await ownedBy(conversationId, socket.data.customerId);
      else {
        const opened = await openConversation(db, { customerId: socket.data.customerId, channel: 'web', openClientId: p.clientId });
        conversationId = opened.conversation.id;
        ownerOf.remember(conversationId, opened.conversation.customerId);
        if (opened.created) {
          const customer = await getCustomer(db, socket.data.customerId);
          const sensitive = await sensitiveAmong(db, [conversationId]);
          toReadersOf(opened.conversation, sensitive.has(conversationId)).emit('conversation:new', presentConversation({ ...opened.conversation, customerName: customer?.name, unread: 0, lastMessage: null }));
        }
      }
      const { message, conversationState } = await appender.append({ conversationId, clientId: p.clientId, sender: { kind: 'customer', id: socket.data.customerId }, type: 'text', body: p.text });
      if (conversationState === 'resolved' || conversationState === 'closed') {
        const reopened = await reopenIfResolved(db, conversationId, { kind: 'customer', id: socket.data.customerId }).catch((err) => log.warn({ err }, 'reopen failed'));
        if (reopened) updates.emit('updated', reopened);
      }
      return { ok: true, conversationId, messageId: message.id, seq: message.seq, visitorToken: socket.data.visitorToken };
    });

    handle(socket, 'conversation:sync', log, async (payload) => {
      const p = parse(syncSchema, payload);
      await ownConversation(p.conversationId);
      // a client that reconnects misses nothing: every acknowledged message is in the database first
      await appender.settled();
      const messages = await listMessagesAfter(db, p.conversationId, p.afterSeq, p.limit);
      return { ok: true, conversationId: p.conversationId, messages: messages.map((m) => presentMessage(m, 'customer')) };
    });

    handle(socket, 'typing', log, async (payload) => {
      const p = parse(typingSchema, payload);
      const c = await ownConversation(p.conversationId);
      toStaffOf(c).emit('typing', { conversationId: p.conversationId, typing: p.typing, sender: { kind: 'customer' } });
      return { ok: true };
    });

    handle(socket, 'read', log, async (payload) => {
      const p = parse(readSchema, payload);
      const c = await ownConversation(p.conversationId);
      toStaffOf(c).emit('read', { conversationId: p.conversationId, seq: p.seq, reader: { kind: 'customer' } });
      return { ok: true };
    });
  });

  // ---- agents: staff with a console session cookie ----
  agents.use(async (socket, next) => {
    try {
      const token = readCookie(socket.handshake.headers.cookie, SESSION_COOKIE);
      const live = await lookupSession(db, token, now());
      if (!live || live.scope !== 'full') return next(new Error('unauthorized: log in first (POST /api/v1/auth/login)'));
      const user = live.user;
      socket.data.user = user;
      socket.data.sessionId = live.session.id;
      socket.data.viewer = await viewerOf(db, user);
      next();
    } catch (err) {
      log.error({ err }, 'agent handshake failed');
      next(new Error('handshake failed'));
    }
  });

  agents.on('connection', (socket) => {
    const user: Viewer = socket.data.viewer;
    socket.join(staffRooms(user));
    // An agent may write wherever they have written (policies/conversations.ts: participants, whose rows are never
    // removed), so after a first reply in a conversation the next ones need no check. Supervisors' scope has no such
    // rule. Bounded: forgetting only means checking again.
    const wroteIn = user.role === 'agent' ? new Set<string>() : null;

    // unreadable is reported as missing, so conversation ids cannot be probed
    const visibleConversation = async (conversationId: string, need: 'read' | 'write' = 'read', content = false) => {
      let c: Conversation | undefined;
      if (need === 'write') {
        // the common case of an agent replying: one query reads the conversation and the write permission, which
        // implies the read permission
        const got = await getConversationIf(db, conversationId, writeScope(user));
        if (got?.met) return got.conversation;
        c = got?.conversation;
      } else c = await getConversation(db, conversationId);
      if (!c || !(await canReadConversation(db, user, conversationId))) {
        if (c && unreadableAs(user) === 'grant_required') {
          if (content) {
            await audit.record({ actor: { id: user.id, login: user.login, role: user.role }, action: 'view.refused', target: { type: 'conversation', id: conversationId }, ip: socket.handshake.address, detail: { reason: 'grant_required', via: 'socket' } });
          }
          throw new Refusal('grant_required', `conversation ${conversationId} is sensitive: reading it needs an approved access request`);
        }
        throw new Refusal('conversation_not_found', `conversation ${conversationId} does not exist`);
      }
      if (need === 'write') throw new Refusal('forbidden', `your role (${user.role}) may read but not write in this conversation`);
      return c;
    };

    handle(socket, 'message:send', log, async (payload) => {
      const p = parse(agentSendSchema, payload);
      if (!wroteIn?.has(p.conversationId)) await visibleConversation(p.conversationId, 'write');
      // the agent has read everything up to their own reply: the read marker commits with the message, no second fsync
      const { message, routing } = await appender.append({ conversationId: p.conversationId, clientId: p.clientId, sender: { kind: 'agent', id: user.id }, type: 'text', body: p.text, readBy: user.id });
      if (wroteIn) {
        if (wroteIn.size >= 10_000) wroteIn.clear();
        wroteIn.add(p.conversationId);
      }
      // bookkeeping after the message is durable: a failure here must not turn a stored message into an error ack
      if (routing.assigneeId === null) {
        const claimed = await claimIfUnassigned(db, p.conversationId, user.id).catch((err) => log.warn({ err }, 'claim failed'));
        const now = claimed ? await getConversation(db, p.conversationId) : undefined;
        if (now) updates.emit('updated', now);
      }
      return { ok: true, conversationId: p.conversationId, messageId: message.id, seq: message.seq };
    });

    handle(socket, 'conversation:sync', log, async (payload) => {
      const p = parse(syncSchema, payload);
      await visibleConversation(p.conversationId, 'read', true);
      await appender.settled();
      const messages = await listMessagesAfter(db, p.conversationId, p.afterSeq, p.limit);
      const grant = await grantUsedFor(db, user, { conversationId: p.conversationId });
      await audit.record({
        actor: { id: user.id, login: user.login, role: user.role },
        action: 'view',
        target: { type: 'conversation', id: p.conversationId },
        ip: socket.handshake.address,
        detail: { afterSeq: p.afterSeq, messages: messages.length, via: 'socket', ...(grant ? { grant } : {}) },
      });
      return { ok: true, conversationId: p.conversationId, messages: messages.map((m) => presentMessage(m, 'staff')) };
    });

    handle(socket, 'typing', log, async (payload) => {
      const p = parse(typingSchema, payload);
      const c = await visibleConversation(p.conversationId, 'write');
      customers.to(customerRoom(c.customerId)).emit('typing', { conversationId: c.id, typing: p.typing, sender: { kind: 'agent' } });
      return { ok: true };
    });

    handle(socket, 'read', log, async (payload) => {
      const p = parse(readSchema, payload);
      // lastSeq bounds the marker: it must count the messages the agent has seen acknowledged
      await appender.settled();
      const c = await visibleConversation(p.conversationId);
      await markRead(db, user.id, c.id, Math.min(p.seq, c.lastSeq));
      customers.to(customerRoom(c.customerId)).emit('read', { conversationId: c.id, seq: Math.min(p.seq, c.lastSeq), reader: { kind: 'agent' } });
      return { ok: true };
    });
  });

  // ---- a session that ends (revoked, signed out, idle, its user disabled) takes its open sockets with it ----
  const checkSessions = async () => {
    const open = [...agents.sockets.values()];
    if (open.length === 0) return;
    const live = await fullSessionIds(db, open.map((s) => s.data.sessionId as string), now());
    for (const s of open) {
      if (live.has(s.data.sessionId) || s.disconnected) continue;
      // the console signs out on this; a reconnect would be refused by the handshake anyway
      s.emit('session:ended', { code: 'session_ended', message: 'your session has ended (signed out, revoked or expired): sign in again' });
      s.disconnect(true);
      log.info({ user: (s.data.user as { login: string }).login, session: s.data.sessionId }, 'socket of an ended session disconnected');
    }
  };
  // one check at a time; a request during a check runs one more after it, so no ending is missed
  let checking: Promise<void> | null = null;
  let again = false;
  const recheck = () => {
    if (checking) {
      again = true;
      return;
    }
    checking = (async () => {
      do {
        again = false;
        await checkSessions().catch((err) => log.warn({ err }, 'sessions of open sockets not checked'));
      } while (again);
    })().finally(() => {
      checking = null;
    });
  };
  const sessionTimer = setInterval(recheck, sessionCheckMs);
  sessionTimer.unref();
  const unsubscribe = sessionEndings?.on(recheck);
  return {
    stop() {
      clearInterval(sessionTimer);
      clearInterval(orgTimer);
      unsubscribe?.();
    },
  };
}

/**
 * No socket of this namespace is in the room, on any node: known only with socket.io's in-memory adapter (one
 * node); an adapter that reaches other nodes (Redis) may have members elsewhere.
 */
function nobodyIn(nsp: Namespace, name: string): boolean {
  return Object.getPrototypeOf(nsp.adapter) === Adapter.prototype && !nsp.adapter.rooms.get(name)?.size;
}

/** conversation → customer, for the most recently used conversations (bounded) */
class ConversationOwners {
  private readonly owners = new Map<string, string>();
  constructor(private readonly capacity = 100_000) {}
  get(conversationId: string): string | undefined {
    return this.owners.get(conversationId);
  }
  remember(conversationId: string, customerId: string): void {
    if (this.owners.size >= this.capacity && !this.owners.has(conversationId)) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(conversationId, customerId);
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
