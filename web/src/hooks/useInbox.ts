import { useCallback, useEffect, useRef, useState } from 'react';
import type { Socket } from 'socket.io-client';
import { api, OPEN_STATES, type ConversationSummary, type MessageView, type User } from '../api.ts';
import { useLatest, useSocketEvent } from '../realtime.ts';

/** The open conversations, newest activity first, kept current by conversation:new and message:new. */

const activity = (c: ConversationSummary) => Date.parse(c.lastMessageAt ?? c.createdAt ?? '') || 0;

export function sortByActivity(items: ConversationSummary[]): ConversationSummary[] {
  return [...items].sort((a, b) => activity(b) - activity(a));
}

/**
 * Applies a new message to the list; undefined when the conversation is not in it (then only the server knows its unread count).
 * A message the list already accounts for (seq not above lastSeq) changes nothing, so a snapshot and a late event never count twice.
 */
export function applyMessage(items: ConversationSummary[], m: MessageView, ctx: { openId: string | null; meId: string }): ConversationSummary[] | undefined {
  const c = items.find((x) => x.id === m.conversationId);
  if (!c) return undefined;
  if (m.seq <= c.lastSeq && c.lastMessage) return items;
  const fromMe = m.sender.kind === 'agent' && m.sender.id === ctx.meId;
  // the server clears an agent's unread count when that agent replies, and the open conversation is read as it arrives
  const unread = fromMe || c.id === ctx.openId ? 0 : (c.unread ?? 0) + 1;
  // mirrors the server: the first agent to reply takes an unassigned conversation
  const claimed = m.sender.kind === 'agent' && c.assigneeId === null && m.sender.id ? { assigneeId: m.sender.id, state: 'assigned' as const } : {};
  const updated: ConversationSummary = {
    ...c,
    ...claimed,
    lastSeq: Math.max(c.lastSeq, m.seq),
    unread,
    lastMessage: { senderKind: m.sender.kind, type: m.type, text: m.text, createdAt: m.createdAt },
    lastMessageAt: m.createdAt,
  };
  return sortByActivity(items.map((x) => (x.id === c.id ? updated : x)));
}

/**
 * Combines a fresh server list with what events changed while it was in flight: a conversation whose
 * local copy is further ahead keeps its local last message, and one that arrived by event after the
 * request was sent is kept even though the snapshot predates it.
 */
export function mergeSnapshot(local: ConversationSummary[], server: ConversationSummary[], arrivedSince: ReadonlySet<string>, openId: string | null): ConversationSummary[] {
  const localById = new Map(local.map((c) => [c.id, c]));
  const merged = server.map((s) => {
    const l = localById.get(s.id);
    const base = l && l.lastSeq > s.lastSeq ? { ...s, lastSeq: l.lastSeq, lastMessage: l.lastMessage, lastMessageAt: l.lastMessageAt, unread: l.unread, assigneeId: l.assigneeId } : s;
    return base.id === openId ? { ...base, unread: 0 } : base;
  });
  const serverIds = new Set(server.map((s) => s.id));
  for (const l of local) if (!serverIds.has(l.id) && arrivedSince.has(l.id)) merged.push(l);
  return sortByActivity(merged);
}

const REFETCH_DEBOUNCE_MS = 300;

export interface Inbox {
  items: ConversationSummary[];
  loading: boolean;
  error: unknown;
  reload(): void;
  markOpened(id: string): void;
  remove(id: string): void;
}

export function useInbox({ socket, connectCount, me, openId }: { socket: Socket | null; connectCount: number; me: User; openId: string | null }): Inbox {
  const [items, setItems] = useState<ConversationSummary[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const ctx = useLatest({ openId, meId: me.id });
  const itemsRef = useLatest(items);
  const arrivedSince = useRef(new Set<string>());
  // conversations announced by event whose list entry may not have rendered yet when their first message arrives
  const announced = useRef(new Set<string>());
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const latestRequest = useRef(0);

  const reload = useCallback(() => {
    const requestNo = ++latestRequest.current;
    arrivedSince.current = new Set();
    announced.current = new Set();
    api.inbox().then(
      (res) => {
        if (requestNo !== latestRequest.current) return;
        const seen = arrivedSince.current;
        setItems((local) => mergeSnapshot(local, res.conversations, seen, ctx.current.openId));
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (requestNo !== latestRequest.current) return;
        setError(err);
        setLoading(false);
      },
    );
  }, [ctx]);

  const scheduleReload = useCallback(() => {
    clearTimeout(refetchTimer.current);
    refetchTimer.current = setTimeout(reload, REFETCH_DEBOUNCE_MS);
  }, [reload]);
  useEffect(() => () => clearTimeout(refetchTimer.current), []);

  // loads on mount and again on every (re)connect: whatever happened while the socket was down is in the new snapshot
  useEffect(() => {
    reload();
  }, [reload, connectCount]);

  useSocketEvent<ConversationSummary>(socket, 'conversation:new', (c) => {
    if (!OPEN_STATES.includes(c.state)) return;
    arrivedSince.current.add(c.id);
    announced.current.add(c.id);
    setItems((list) => (list.some((x) => x.id === c.id) ? list : sortByActivity([{ ...c, unread: c.unread ?? 0 }, ...list])));
  });

  useSocketEvent<MessageView>(socket, 'message:new', (m) => {
    arrivedSince.current.add(m.conversationId);
    const known = itemsRef.current.some((c) => c.id === m.conversationId) || announced.current.has(m.conversationId);
    if (known) setItems((list) => applyMessage(list, m, ctx.current) ?? list);
    // a message in a conversation we do not list (opened before we connected, or reopened): only the server knows its unread count
    else scheduleReload();
  });

  const markOpened = useCallback((id: string) => {
    setItems((list) => (list.some((c) => c.id === id && c.unread) ? list.map((c) => (c.id === id ? { ...c, unread: 0 } : c)) : list));
  }, []);

  const remove = useCallback((id: string) => {
    setItems((list) => list.filter((c) => c.id !== id));
  }, []);

  return { items, loading, error, reload, markOpened, remove };
}
