import type { StoredMessage } from './appender.ts';
import { maskPii, type PiiKind } from '../governance/masking.ts';
import type { Conversation } from './conversations.ts';

/** The one shape of a message on the wire (socket message:new, sync, REST). */
export interface MessageView {
  conversationId: string;
  messageId: string;
  seq: number;
  /** the sender's idempotency key, so a client can match its pending message to the echo */
  clientId: string | null;
  sender: { kind: StoredMessage['senderKind']; id: string | null };
  type: StoredMessage['type'];
  text: string;
  createdAt: string;
  hash: string;
  /** for staff: the kinds of personal data masked in text */
  pii?: PiiKind[];
}

/**
 * Staff see phone, ID-card and bank-card numbers and emails masked (no unmask grants exist yet); `pii` says what was
 * found, so the console can warn the agent. The customer sees their own words as written.
 */
export function presentMessage(m: StoredMessage, audience: 'customer' | 'staff'): MessageView {
  if (audience === 'staff') {
    const masked = maskPii(m.body);
    return { ...plainView(m), text: masked.text, pii: masked.found };
  }
  return plainView(m);
}

function plainView(m: StoredMessage): MessageView {
  return {
    conversationId: m.conversationId,
    messageId: m.id,
    seq: m.seq,
    clientId: m.clientId,
    sender: { kind: m.senderKind, id: m.senderId },
    type: m.type,
    text: m.body,
    createdAt: new Date(m.createdAt).toISOString(),
    hash: m.hash,
  };
}

type LastMessage = { senderKind: string; type: string; body: string; createdAt: number } | null;

export function presentConversation(c: Conversation & { customerName?: string; unread?: number; lastMessage?: LastMessage }) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: c.id,
    externalId: c.externalId,
    customerId: c.customerId,
    customerName: c.customerName,
    channel: c.channel,
    groupId: c.groupId,
    assigneeId: c.assigneeId,
    state: c.state,
    lastSeq: c.lastSeq,
    unread: c.unread,
    lastMessage: c.lastMessage ? { senderKind: c.lastMessage.senderKind, type: c.lastMessage.type, text: c.lastMessage.body, createdAt: iso(c.lastMessage.createdAt) } : c.lastMessage,
    lastMessageAt: iso(c.lastMessageAt),
    createdAt: iso(c.createdAt),
    firstResponseAt: iso(c.firstResponseAt),
    resolvedAt: iso(c.resolvedAt),
  };
}
