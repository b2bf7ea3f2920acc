/**
 * The widget's conversation state and its socket.io connection to the kefu server (namespace /customer).
 * No DOM here: the UI subscribes with onChange and reads the state.
 */
import { io, type Socket } from 'socket.io-client';

export type SenderKind = 'customer' | 'agent' | 'bot' | 'system';

export interface Message {
  conversationId: string;
  messageId: string;
  seq: number;
  /** the sender's idempotency key (servers that send it) */
  clientId?: string | null;
  sender: { kind: SenderKind; id?: string | null };
  type: string;
  text: string;
  createdAt: string;
}

export interface Pending {
  clientId: string;
  text: string;
  createdAt: string;
  state: 'sending' | 'failed';
  error?: string;
  /** a message:new that most likely is this one, seen before its ack */
  echo?: string;
}

export type Status = 'idle' | 'connecting' | 'connected' | 'reconnecting';

interface SessionInfo {
  visitorToken: string;
  customerId: string | null;
  conversations: { id: string; state: string; lastSeq: number; createdAt: string }[];
}

type SendAck = { ok: true; conversationId: string; messageId: string; seq: number; visitorToken?: string } | { ok: false; error: string; code: string };
type SyncAck = { ok: true; conversationId: string; messages: Message[] } | { ok: false; error: string; code: string };

const ACK_TIMEOUT = 10000;
const SYNC_PAGE = 1000;
const TYPING_EVERY = 3000;
const TYPING_IDLE = 3000;
const AGENT_TYPING_TTL = 8000;

export const KEYS = {
  token: 'kefu.visitorToken',
  conversation: 'kefu.conversationId',
  pending: 'kefu.pending',
  read: 'kefu.readSeq',
};

/** localStorage that never throws (private mode, sandboxed iframes, full quota): falls back to memory */
const memory = new Map<string, string>();
export const storage = {
  get(key: string): string | null {
    try {
      const v = window.localStorage.getItem(key);
      if (v !== null) return v;
    } catch {
      /* fall through */
    }
    return memory.has(key) ? memory.get(key)! : null;
  },
  set(key: string, value: string | null): void {
    if (value === null) memory.delete(key);
    else memory.set(key, value);
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch {
      /* memory only */
    }
  },
};

export function uuid(): string {
  const c = (typeof crypto !== 'undefined' ? crypto : undefined) as Crypto | undefined;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function readJson<T>(key: string, fallback: T): T {
  try {
    const raw = storage.get(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

export class Session {
  status: Status = 'idle';
  conversationId: string | null = storage.get(KEYS.conversation);
  /** confirmed messages of the current conversation, in seq order */
  messages: Message[] = [];
  pending: Pending[] = [];
  agentTyping = false;
  /** the panel is open and the page visible: arriving messages count as read */
  visible = false;

  private byId = new Map<string, Message>();
  /** every seq up to this one is known (sync fills the gaps) */
  private highWater = 0;
  private readSeq = 0;
  private readSent = 0;
  private socket: Socket | null = null;
  private ready = false;
  private everConnected = false;
  private generation = 0;
  private flushing = false;
  private syncing: Promise<void> | null = null;
  private resync = false;
  private listeners: (() => void)[] = [];
  private changeQueued = false;
  private typingSentAt = 0;
  private typingIdle: ReturnType<typeof setTimeout> | undefined;
  private agentTypingTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly url: string) {
    const saved = readJson<{ conversationId?: string; seq?: number }>(KEYS.read, {});
    if (saved.conversationId && saved.conversationId === this.conversationId) this.readSeq = saved.seq || 0;
    const stored = readJson<Pending[]>(KEYS.pending, []);
    if (Array.isArray(stored)) {
      this.pending = stored
        .filter((p) => p && typeof p.clientId === 'string' && typeof p.text === 'string')
        .map((p) => ({ clientId: p.clientId, text: p.text, createdAt: p.createdAt || new Date().toISOString(), state: 'sending' as const }));
    }
  }

  /** a returning visitor (or one with unsent messages) connects right away, so unread replies show on the launcher */
  get hasHistory(): boolean {
    return !!storage.get(KEYS.token) || this.pending.length > 0;
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** listeners run once per task, however many changes happened in it */
  private changed(): void {
    if (this.changeQueued) return;
    this.changeQueued = true;
    Promise.resolve().then(() => {
      this.changeQueued = false;
      for (const fn of this.listeners) fn();
    });
  }

  /** a pending message whose own echo (message:new) is already shown: the UI hides it until its ack removes it */
  echoed(p: Pending): boolean {
    return !!p.echo && this.byId.has(p.echo);
  }

  get unread(): number {
    let n = 0;
    for (const m of this.messages) if (m.seq > this.readSeq && (m.sender.kind === 'agent' || m.sender.kind === 'bot')) n++;
    return n;
  }

  connect(): void {
    if (this.socket) return;
    const socket = io(`${this.url}/customer`, {
      // evaluated on every (re)connection, so a token learned later is offered too
      auth: (cb) => {
        const visitorToken = storage.get(KEYS.token);
        cb(visitorToken ? { visitorToken } : {});
      },
      reconnectionDelayMax: 10000,
    });
    this.socket = socket;
    this.setStatus('connecting');

    socket.on('connect', () => {
      this.generation++;
      this.ready = false;
      this.setStatus('connecting');
    });
    socket.on('disconnect', () => {
      this.ready = false;
      this.setAgentTyping(false);
      this.setStatus('reconnecting');
      // the server dropped us on purpose (e.g. it restarted with io.disconnectSockets): socket.io does not retry that by itself
      if (!socket.active) setTimeout(() => socket.connect(), 2000);
    });
    socket.on('connect_error', () => {
      this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
      if (!socket.active) setTimeout(() => socket.connect(), 5000);
    });
    socket.on('session', (s: SessionInfo) => void this.onSession(s));
    socket.on('message:new', (m: Message) => this.onMessage(m, true));
    socket.on('typing', (t: { conversationId: string; typing: boolean; sender?: { kind: string } }) => {
      if (t && t.conversationId === this.conversationId && t.sender?.kind !== 'customer') this.setAgentTyping(!!t.typing);
    });
  }

  private setStatus(s: Status): void {
    if (this.status === s) return;
    this.status = s;
    this.changed();
  }

  private async onSession(s: SessionInfo): Promise<void> {
    if (s && typeof s.visitorToken === 'string') storage.set(KEYS.token, s.visitorToken);
    const list = Array.isArray(s?.conversations) ? s.conversations : [];
    const remembered = this.conversationId;
    const keep = remembered && list.some((c) => c.id === remembered) ? remembered : null;
    // the server lists the newest first
    const next = keep ?? (list[0] ? list[0].id : null);
    if (next !== remembered) this.switchConversation(next);
    this.ready = true;
    this.everConnected = true;
    this.setStatus('connected');
    const gen = this.generation;
    await this.sync();
    if (gen === this.generation) void this.flush();
  }

  private switchConversation(id: string | null): void {
    this.conversationId = id;
    storage.set(KEYS.conversation, id);
    this.messages = [];
    this.byId.clear();
    this.highWater = 0;
    this.readSeq = 0;
    this.readSent = 0;
    this.changed();
  }

  /** fetches what is missing after the high-water seq (all of it after a reload); coalesces concurrent calls */
  sync(): Promise<void> {
    if (this.syncing) {
      this.resync = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.resync = false;
        await this.syncOnce();
      } while (this.resync && this.ready);
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const socket = this.socket;
    const conversationId = this.conversationId;
    if (!socket || !this.ready || !conversationId) return;
    for (;;) {
      let reply: SyncAck;
      try {
        reply = await socket.timeout(ACK_TIMEOUT).emitWithAck('conversation:sync', { conversationId, afterSeq: this.highWater });
      } catch {
        return; // disconnected or slow: the next connection syncs again
      }
      if (conversationId !== this.conversationId) return;
      if (!reply || !reply.ok) {
        if (reply && reply.code === 'conversation_not_found') this.switchConversation(null);
        return;
      }
      let top = this.highWater;
      for (const m of reply.messages) {
        this.onMessage(m, false);
        top = Math.max(top, m.seq);
      }
      // seqs are dense, so everything up to the last one returned is now known (even seqs we were not shown)
      this.highWater = top;
      if (reply.messages.length < SYNC_PAGE) break;
    }
    this.afterMessages();
  }

  private onMessage(m: Message, live: boolean): void {
    if (!m || typeof m.messageId !== 'string' || typeof m.seq !== 'number') return;
    if (!this.conversationId) {
      // another tab of this visitor opened the conversation, or our own first message's echo came before its ack
      if (!live) return;
      this.switchConversation(m.conversationId);
    }
    if (m.conversationId !== this.conversationId) return;
    if (live && m.sender.kind !== 'customer') this.setAgentTyping(false);
    if (this.byId.has(m.messageId)) return;
    if (live && m.sender.kind === 'customer') {
      // our own message may echo before its ack: match it by clientId (or, from a server without it, by text)
      if (m.clientId && this.pending.some((p) => p.clientId === m.clientId)) {
        // stored for sure (even one whose ack timed out): no longer pending
        this.pending = this.pending.filter((p) => p.clientId !== m.clientId);
        this.savePending();
      } else if (!m.clientId) {
        const own = this.pending.find((p) => p.state === 'sending' && !p.echo && p.text === m.text);
        if (own) own.echo = m.messageId;
      }
    }
    this.insert(m);
    if (live) {
      if (m.seq === this.highWater + 1) this.advanceHighWater();
      else if (m.seq > this.highWater + 1) void this.sync();
      this.afterMessages();
    }
  }

  private insert(m: Message): void {
    this.byId.set(m.messageId, m);
    const list = this.messages;
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > m.seq) i--;
    list.splice(i, 0, m);
    this.changed();
  }

  private advanceHighWater(): void {
    const seqs = new Set(this.messages.map((m) => m.seq));
    while (seqs.has(this.highWater + 1)) this.highWater++;
  }

  private afterMessages(): void {
    if (this.visible) this.markRead();
    this.changed();
  }

  /** called by the UI when the panel opens or closes and when the page becomes visible */
  setVisible(v: boolean): void {
    this.visible = v;
    if (v) this.markRead();
    this.changed();
  }

  private markRead(): void {
    const last = this.messages[this.messages.length - 1];
    if (!last || !this.conversationId) return;
    if (last.seq > this.readSeq) {
      this.readSeq = last.seq;
      storage.set(KEYS.read, JSON.stringify({ conversationId: this.conversationId, seq: last.seq }));
      this.changed();
    }
    if (this.socket && this.ready && last.seq > this.readSent) {
      this.readSent = last.seq;
      this.socket.emit('read', { conversationId: this.conversationId, seq: last.seq });
    }
  }

  // ---- sending ----

  send(text: string): void {
    if (!text.trim()) return;
    this.stopTyping();
    this.pending.push({ clientId: uuid(), text, createdAt: new Date().toISOString(), state: 'sending' });
    this.savePending();
    this.changed();
    if (!this.socket) this.connect();
    void this.flush();
  }

  retry(clientId: string): void {
    const p = this.pending.find((x) => x.clientId === clientId);
    if (!p) return;
    p.state = 'sending';
    delete p.error;
    this.changed();
    void this.flush();
  }

  private savePending(): void {
    const keep = this.pending.map(({ clientId, text, createdAt }) => ({ clientId, text, createdAt }));
    storage.set(KEYS.pending, keep.length ? JSON.stringify(keep) : null);
  }

  /**
   * Sends pending messages one at a time, oldest first, so the first one opens the conversation and the rest
   * join it. A retry reuses the clientId, so the server stores each message once however often it is sent.
   */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.ready && this.socket) {
        const p = this.pending.find((x) => x.state === 'sending');
        if (!p) break;
        const gen = this.generation;
        const payload: { conversationId?: string; clientId: string; text: string } = { clientId: p.clientId, text: p.text };
        if (this.conversationId) payload.conversationId = this.conversationId;
        let reply: SendAck;
        try {
          reply = await this.socket.timeout(ACK_TIMEOUT).emitWithAck('message:send', payload);
        } catch {
          // no answer: disconnected (retried after reconnect) or a slow server (offer a retry)
          if (gen === this.generation && this.socket.connected) this.fail(p, 'timeout');
          if (!this.socket.connected) break;
          continue;
        }
        if (!reply || !reply.ok) {
          if (reply && reply.code === 'conversation_not_found' && payload.conversationId) {
            this.switchConversation(null); // the remembered conversation is gone: open a new one
            continue;
          }
          this.fail(p, reply ? reply.error : 'no reply');
          continue;
        }
        if (reply.visitorToken) storage.set(KEYS.token, reply.visitorToken);
        if (this.conversationId !== reply.conversationId) this.switchConversation(reply.conversationId);
        this.pending = this.pending.filter((x) => x !== p);
        this.savePending();
        if (!this.byId.has(reply.messageId)) {
          this.insert({ conversationId: reply.conversationId, messageId: reply.messageId, seq: reply.seq, sender: { kind: 'customer' }, type: 'text', text: p.text, createdAt: new Date().toISOString() });
          if (reply.seq === this.highWater + 1) this.advanceHighWater();
          else if (reply.seq > this.highWater + 1) void this.sync();
        }
        this.afterMessages();
      }
    } finally {
      this.flushing = false;
    }
  }

  private fail(p: Pending, error: string): void {
    p.state = 'failed';
    p.error = error;
    delete p.echo;
    this.changed();
  }

  // ---- typing ----

  /** the customer typed: tell the agent, at most every few seconds, and that it stopped after a pause */
  typed(): void {
    if (!this.socket || !this.ready || !this.conversationId) return;
    const now = Date.now();
    if (now - this.typingSentAt > TYPING_EVERY) {
      this.typingSentAt = now;
      this.socket.emit('typing', { conversationId: this.conversationId, typing: true });
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE);
  }

  private stopTyping(): void {
    clearTimeout(this.typingIdle);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    if (this.socket && this.ready && this.conversationId) this.socket.emit('typing', { conversationId: this.conversationId, typing: false });
  }

  private setAgentTyping(on: boolean): void {
    clearTimeout(this.agentTypingTimer);
    if (on) this.agentTypingTimer = setTimeout(() => this.setAgentTyping(false), AGENT_TYPING_TTL);
    if (this.agentTyping === on) return;
    this.agentTyping = on;
    this.changed();
  }
}
