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
  /** for staff: the kinds of personal data masked in text (or, when unmasked, that would be) */
  pii?: PiiKind[];
  /** true only in the answer to an explicit, audited unmask request */
  unmasked?: true;
}

/**
 * Who a message is shown to:
 * - `staff`: phone, ID-card and bank-card numbers and emails masked; `pii` says what was found, so the console can
 *   warn the agent. Every staff view is this one, grant or no grant: unmasking is always explicit.
 * - `staff_unmasked`: the text as written, for the unmask route only, after the policy found a valid unmask grant
 *   (policies/conversations.ts unmaskGrantFor) and the unmask was audited.
 * - `customer`: the customer sees their own words as written.
 */
export function presentMessage(m: StoredMessage, audience: 'customer' | 'staff' | 'staff_unmasked'): MessageView {
  if (audience === 'customer') return plainView(m);
  const masked = maskPii(m.body);
  if (audience === 'staff_unmasked') return { ...plainView(m), pii: masked.found, unmasked: true };
  return { ...plainView(m), text: masked.text, pii: masked.found };
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

/** A conversation as staff see it (in lists too): the customer's name and the last message's text masked. */
export function presentConversation(c: Conversation & { customerName?: string; unread?: number; lastMessage?: LastMessage }) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    id: c.id,
    externalId: c.externalId,
    customerId: c.customerId,
    customerName: c.customerName === undefined ? undefined : maskPii(c.customerName).text,
    channel: c.channel,
    groupId: c.groupId,
    assigneeId: c.assigneeId,
    state: c.state,
    lastSeq: c.lastSeq,
    unread: c.unread,
    lastMessage: c.lastMessage ? { senderKind: c.lastMessage.senderKind, type: c.lastMessage.type, text: maskPii(c.lastMessage.body).text, createdAt: iso(c.lastMessage.createdAt) } : c.lastMessage,
    lastMessageAt: iso(c.lastMessageAt),
    createdAt: iso(c.createdAt),
    firstResponseAt: iso(c.firstResponseAt),
    resolvedAt: iso(c.resolvedAt),
  };
}
