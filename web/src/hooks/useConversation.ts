import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import type { Socket } from 'socket.io-client';
import { api, fetchMessagesAfter, unmaskConversation, type ConversationSummary, type Customer, type CustomerOriginal, type MessageView, type User } from '../api.ts';
import { emitWithAck, newClientId, useLatest, useSocketEvent, type ReadEvent, type SendAck, type SyncAck, type TypingEvent } from '../realtime.ts';

/** One open conversation: its messages in seq order, the agent's unacknowledged replies, and the customer's live state. */

export interface PendingMessage {
  clientId: string;
  text: string;
  createdAt: string;
  status: 'sending' | 'failed';
  error?: string;
}

interface State {
  id: string | null;
  conversation: ConversationSummary | null;
  customer: Customer | null;
  messages: MessageView[];
  pending: PendingMessage[];
  loading: boolean;
  error: unknown;
  customerTyping: boolean;
  /** highest seq the customer has read, as far as this session has seen */
  customerReadSeq: number;
  /** the viewer holds a valid unmask grant for this conversation: 显示原文 is offered */
  mayUnmask: boolean;
  /** the original text by seq, after an explicit 显示原文; null while the masked text is shown */
  original: Record<number, string> | null;
  /** the customer's contact details as written, fetched with the original text */
  originalCustomer: CustomerOriginal | null;
}

type Action =
  | { type: 'open'; id: string | null }
  | { type: 'loaded'; id: string; conversation: ConversationSummary; customer: Customer | null; messages: MessageView[]; mayUnmask: boolean }
  | { type: 'original'; id: string; original: Record<number, string> | null; customer: CustomerOriginal | null }
  | { type: 'loadFailed'; id: string; error: unknown }
  | { type: 'messages'; id: string; messages: MessageView[]; meId: string }
  | { type: 'queued'; id: string; pending: PendingMessage }
  | { type: 'retry'; id: string; clientId: string }
  | { type: 'acked'; id: string; clientId: string; message: MessageView }
  | { type: 'failed'; id: string; clientId: string; error: string }
  | { type: 'discard'; id: string; clientId: string }
  | { type: 'typing'; id: string; typing: boolean }
  | { type: 'customerRead'; id: string; seq: number }
  | { type: 'updated'; id: string; conversation: ConversationSummary };

const initial = (id: string | null): State => ({
  id,
  conversation: null,
  customer: null,
  messages: [],
  pending: [],
  loading: id !== null,
  error: null,
  customerTyping: false,
  customerReadSeq: 0,
  mayUnmask: false,
  original: null,
  originalCustomer: null,
});

/**
 * Adds messages by seq. The server's copy wins over one built locally from an ack, and a messageId
 * already present under its seq is never duplicated, whichever of ack, message:new and sync comes first.
 */
export function mergeMessages(existing: MessageView[], incoming: MessageView[], opts: { keepExisting?: boolean } = {}): MessageView[] {
  if (incoming.length === 0) return existing;
  const bySeq = new Map(existing.map((m) => [m.seq, m]));
  let changed = false;
  for (const m of incoming) {
    const prior = bySeq.get(m.seq);
    if (prior && (opts.keepExisting || (prior.messageId === m.messageId && prior.hash === m.hash))) continue;
    bySeq.set(m.seq, m);
    changed = true;
  }
  return changed ? [...bySeq.values()].sort((a, b) => a.seq - b.seq) : existing;
}

/**
 * The server broadcasts a sent message before it acks it, and the broadcast carries no clientId: an own message
 * with the text of a reply still sending is that reply, so it stops being shown twice until the ack arrives.
 */
function withoutEchoes(pending: PendingMessage[], incoming: MessageView[], meId: string): PendingMessage[] {
  let rest = pending;
  for (const m of incoming) {
    if (m.sender.kind !== 'agent' || m.sender.id !== meId) continue;
    const echo = rest.find((p) => p.status === 'sending' && p.text === m.text);
    if (echo) rest = rest.filter((p) => p !== echo);
  }
  return rest;
}

function reducer(state: State, action: Action): State {
  if (action.type === 'open') return action.id === state.id ? state : initial(action.id);
  // results for a conversation the agent has already left
  if (action.id !== state.id) return state;
  switch (action.type) {
    case 'loaded':
      return { ...state, conversation: action.conversation, customer: action.customer, messages: mergeMessages(state.messages, action.messages), loading: false, error: null, mayUnmask: action.mayUnmask };
    case 'original':
      return { ...state, original: action.original, originalCustomer: action.customer };
    case 'loadFailed':
      return { ...state, loading: false, error: action.error };
    case 'messages': {
      const fromCustomer = action.messages.some((m) => m.sender.kind === 'customer');
      return {
        ...state,
        messages: mergeMessages(state.messages, action.messages),
        pending: withoutEchoes(state.pending, action.messages, action.meId),
        customerTyping: fromCustomer ? false : state.customerTyping,
      };
    }
    case 'queued':
      return { ...state, pending: [...state.pending, action.pending] };
    case 'retry':
      return { ...state, pending: state.pending.map((p) => (p.clientId === action.clientId ? { ...p, status: 'sending', error: undefined } : p)) };
    case 'acked':
      return {
        ...state,
        pending: state.pending.filter((p) => p.clientId !== action.clientId),
        messages: mergeMessages(state.messages, [action.message], { keepExisting: true }),
      };
    case 'failed':
      return { ...state, pending: state.pending.map((p) => (p.clientId === action.clientId ? { ...p, status: 'failed', error: action.error } : p)) };
    case 'discard':
      return { ...state, pending: state.pending.filter((p) => p.clientId !== action.clientId) };
    case 'typing':
      return state.customerTyping === action.typing ? state : { ...state, customerTyping: action.typing };
    case 'customerRead':
      return action.seq > state.customerReadSeq ? { ...state, customerReadSeq: action.seq } : state;
    case 'updated':
      return { ...state, conversation: { ...state.conversation, ...action.conversation } };
  }
}

const TYPING_EXPIRY_MS = 6_000;

export interface OpenConversation extends State {
  lastSeq: number;
  send(text: string): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  resolve(): Promise<ConversationSummary>;
  /** 显示原文: fetches the original text (the server audits it); later messages arrive masked */
  showOriginal(): Promise<void>;
  hideOriginal(): void;
}

export function useConversation({
  socket,
  connectCount,
  me,
  conversationId,
  describeError,
}: {
  socket: Socket | null;
  connectCount: number;
  me: User;
  conversationId: string | null;
  describeError: (err: unknown) => string;
}): OpenConversation {
  const [state, dispatch] = useReducer(reducer, conversationId, initial);
  const lastSeq = state.messages.at(-1)?.seq ?? 0;
  const latest = useLatest({ state, lastSeq, socket, describeError });
  const readSent = useRef({ id: '', seq: 0 });
  const typingExpiry = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  if (state.id !== conversationId) dispatch({ type: 'open', id: conversationId });

  useEffect(() => {
    if (!conversationId) return;
    Promise.all([api.conversation(conversationId), fetchMessagesAfter(conversationId, 0)]).then(
      ([detail, messages]) => dispatch({ type: 'loaded', id: conversationId, conversation: detail.conversation, customer: detail.customer, messages, mayUnmask: detail.mayUnmask === true }),
      (error: unknown) => dispatch({ type: 'loadFailed', id: conversationId, error }),
    );
  }, [conversationId]);

  const sync = useCallback(
    (id: string, afterSeq: number) => {
      const s = latest.current.socket;
      if (!s?.connected) return;
      emitWithAck<SyncAck>(s, 'conversation:sync', { conversationId: id, afterSeq }).then(
        (ack) => {
          if (ack.ok) dispatch({ type: 'messages', id, messages: ack.messages, meId: me.id });
        },
        // a sync that timed out is repeated by the next gap or reconnect
        () => {},
      );
    },
    [latest, me.id],
  );

  const deliver = useCallback(
    (id: string, p: PendingMessage) => {
      const s = latest.current.socket;
      // queued until the socket is back: the reconnect effect delivers it with the same clientId
      if (!s?.connected) return;
      emitWithAck<SendAck>(s, 'message:send', { conversationId: id, clientId: p.clientId, text: p.text }).then(
        (ack) => {
          if (ack.ok) {
            const message: MessageView = { conversationId: id, messageId: ack.messageId, seq: ack.seq, sender: { kind: 'agent', id: me.id }, type: 'text', text: p.text, createdAt: p.createdAt, hash: '' };
            dispatch({ type: 'acked', id, clientId: p.clientId, message });
          } else dispatch({ type: 'failed', id, clientId: p.clientId, error: ack.error });
        },
        (err: unknown) => dispatch({ type: 'failed', id, clientId: p.clientId, error: latest.current.describeError(err) }),
      );
    },
    [latest, me.id],
  );

  // after a reconnect: fetch what was missed and resend what was never acknowledged (clientId makes that safe)
  useEffect(() => {
    const { state: s, lastSeq: seq } = latest.current;
    if (connectCount === 0 || !s.id) return;
    if (connectCount > 1 && !s.loading) sync(s.id, seq);
    for (const p of s.pending) if (p.status === 'sending') deliver(s.id, p);
  }, [connectCount, latest, sync, deliver]);

  useSocketEvent<MessageView>(socket, 'message:new', (m) => {
    const { state: s, lastSeq: seq } = latest.current;
    if (m.conversationId !== s.id) return;
    dispatch({ type: 'messages', id: m.conversationId, messages: [m], meId: me.id });
    // a gap means events were lost (e.g. during a reconnect): fetch the missing range
    if (!s.loading && m.seq > seq + 1) sync(m.conversationId, seq);
  });

  useSocketEvent<TypingEvent>(socket, 'typing', (e) => {
    if (e.conversationId !== latest.current.state.id || e.sender.kind !== 'customer') return;
    dispatch({ type: 'typing', id: e.conversationId, typing: e.typing });
    clearTimeout(typingExpiry.current);
    // a customer who closes the tab mid-sentence never sends typing: false
    if (e.typing) typingExpiry.current = setTimeout(() => dispatch({ type: 'typing', id: e.conversationId, typing: false }), TYPING_EXPIRY_MS);
  });
  useEffect(() => () => clearTimeout(typingExpiry.current), []);

  useSocketEvent<ReadEvent>(socket, 'read', (e) => {
    if (e.conversationId === latest.current.state.id && e.reader.kind === 'customer') dispatch({ type: 'customerRead', id: e.conversationId, seq: e.seq });
  });

  // everything shown in the open conversation counts as read; the agent's own reply needs no receipt (the server marks it)
  const last = state.messages.at(-1);
  const lastIsMine = last?.sender.kind === 'agent' && last.sender.id === me.id;
  useEffect(() => {
    if (!state.id || state.loading || lastSeq === 0 || lastIsMine) return;
    if (readSent.current.id === state.id && readSent.current.seq >= lastSeq) return;
    readSent.current = { id: state.id, seq: lastSeq };
    if (socket?.connected) socket.emit('read', { conversationId: state.id, seq: lastSeq });
    else api.markRead(state.id, lastSeq).catch(() => {});
  }, [state.id, state.loading, lastSeq, lastIsMine, socket]);

  const send = useCallback(
    (text: string) => {
      const id = latest.current.state.id;
      if (!id) return;
      const pending: PendingMessage = { clientId: newClientId(), text, createdAt: new Date().toISOString(), status: 'sending' };
      dispatch({ type: 'queued', id, pending });
      deliver(id, pending);
    },
    [latest, deliver],
  );

  const retry = useCallback(
    (clientId: string) => {
      const { state: s } = latest.current;
      const p = s.pending.find((x) => x.clientId === clientId);
      if (!s.id || !p) return;
      dispatch({ type: 'retry', id: s.id, clientId });
      deliver(s.id, p);
    },
    [latest, deliver],
  );

  const discard = useCallback(
    (clientId: string) => {
      const id = latest.current.state.id;
      if (id) dispatch({ type: 'discard', id, clientId });
    },
    [latest],
  );

  const resolve = useCallback(async () => {
    const id = latest.current.state.id;
    if (!id) throw new Error('no conversation is open');
    const res = await api.resolve(id);
    dispatch({ type: 'updated', id, conversation: res.conversation });
    return res.conversation;
  }, [latest]);

  const showOriginal = useCallback(async () => {
    const id = latest.current.state.id;
    if (!id) return;
    const { original, customer } = await unmaskConversation(id);
    dispatch({ type: 'original', id, original, customer });
  }, [latest]);

  const hideOriginal = useCallback(() => {
    const id = latest.current.state.id;
    if (id) dispatch({ type: 'original', id, original: null, customer: null });
  }, [latest]);

  return useMemo(() => ({ ...state, lastSeq, send, retry, discard, resolve, showOriginal, hideOriginal }), [state, lastSeq, send, retry, discard, resolve, showOriginal, hideOriginal]);
}
