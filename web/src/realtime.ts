import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import type { MessageView, SenderKind } from './api.ts';

/** The agent side of the socket.io gateway (namespace /agent); the session cookie authenticates the handshake. */

export type ConnectionStatus = 'connecting' | 'online' | 'reconnecting';

type Refusal = { ok: false; error: string; code: string };
export type SendAck = { ok: true; conversationId: string; messageId: string; seq: number } | Refusal;
export type SyncAck = { ok: true; conversationId: string; messages: MessageView[] } | Refusal;

export interface TypingEvent {
  conversationId: string;
  typing: boolean;
  sender: { kind: SenderKind };
}

export interface ReadEvent {
  conversationId: string;
  seq: number;
  reader: { kind: SenderKind };
}

export const ACK_TIMEOUT_MS = 15_000;
const MANUAL_RECONNECT_DELAY_MS = 2_000;

export interface AgentSocket {
  socket: Socket | null;
  status: ConnectionStatus;
  /** grows by one on every successful (re)connect: effects keyed on it resynchronise what a disconnect may have missed */
  connectCount: number;
}

export function useLatest<T>(value: T) {
  const ref = useRef(value);
  useLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}

export function useAgentSocket(onUnauthorized: () => void): AgentSocket {
  const [socket, setSocket] = useState<Socket | null>(null);
  const [status, setStatus] = useState<ConnectionStatus>('connecting');
  const [connectCount, setConnectCount] = useState(0);
  const unauthorized = useLatest(onUnauthorized);

  useEffect(() => {
    const s = io('/agent', { withCredentials: true });
    let retry: ReturnType<typeof setTimeout> | undefined;
    const reconnectLater = () => {
      clearTimeout(retry);
      retry = setTimeout(() => s.connect(), MANUAL_RECONNECT_DELAY_MS);
    };
    s.on('connect', () => {
      setStatus('online');
      setConnectCount((n) => n + 1);
    });
    s.on('disconnect', (reason) => {
      setStatus('reconnecting');
      // a server that restarts disconnects its sockets itself, and socket.io leaves reconnecting after that to the application
      if (reason === 'io server disconnect') reconnectLater();
    });
    // the session was revoked, signed out elsewhere or ran out while the socket was open
    s.on('session:ended', () => unauthorized.current());
    s.on('connect_error', (err) => {
      if (err.message.startsWith('unauthorized')) {
        unauthorized.current();
        return;
      }
      setStatus((prev) => (prev === 'connecting' ? 'connecting' : 'reconnecting'));
      // socket.io retries transport failures by itself but not a refusal from the handshake middleware
      if (!s.active) reconnectLater();
    });
    setSocket(s);
    return () => {
      clearTimeout(retry);
      s.removeAllListeners();
      s.disconnect();
      setSocket(null);
    };
  }, [unauthorized]);

  return { socket, status, connectCount };
}

/** Subscribes to a socket event for the lifetime of the component, always calling the latest handler. */
export function useSocketEvent<T>(socket: Socket | null, event: string, handler: (payload: T) => void): void {
  const latest = useLatest(handler);
  useEffect(() => {
    if (!socket) return;
    const on = (payload: T) => latest.current(payload);
    socket.on(event, on);
    return () => {
      socket.off(event, on);
    };
  }, [socket, event, latest]);
}

/** Emits and resolves with the server's ack; rejects when none arrives in time. */
export function emitWithAck<T>(socket: Socket, event: string, payload: unknown, timeoutMs = ACK_TIMEOUT_MS): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

/**
 * A fresh id for message:send, which makes a retried send idempotent. crypto.randomUUID exists only in secure
 * contexts, and a self-hosted console is often opened over plain http on a LAN address.
 */
export function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const TYPING_REPEAT_MS = 2_000;
const TYPING_IDLE_MS = 3_000;

/**
 * Tells the customer the agent is typing: at most one `typing: true` per two seconds while keys are pressed,
 * and `typing: false` after three idle seconds, on send, or when the agent leaves the conversation.
 */
export function useTypingNotifier(socket: Socket | null, conversationId: string | null) {
  const lastSent = useRef(0);
  const idle = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const stopped = useCallback(() => {
    clearTimeout(idle.current);
    idle.current = undefined;
    if (lastSent.current === 0 || !socket || !conversationId) return;
    lastSent.current = 0;
    socket.emit('typing', { conversationId, typing: false });
  }, [socket, conversationId]);

  const typed = useCallback(() => {
    if (!socket?.connected || !conversationId) return;
    const now = Date.now();
    if (now - lastSent.current >= TYPING_REPEAT_MS) {
      lastSent.current = now;
      socket.emit('typing', { conversationId, typing: true });
    }
    clearTimeout(idle.current);
    idle.current = setTimeout(stopped, TYPING_IDLE_MS);
  }, [socket, conversationId, stopped]);

  useEffect(() => stopped, [stopped]);

  return { typed, stopped };
}
