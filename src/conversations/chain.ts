import { createHash } from 'node:crypto';
import type { MessageType, SenderKind } from '../store/index.ts';

/** prev hash of a conversation's first message */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  conversationId: string;
  seq: number;
  senderKind: SenderKind;
  senderId: string | null;
  type: MessageType;
  body: string;
  createdAt: number;
}

/** The exact bytes a message's hash covers. Field order is fixed; changing it breaks every stored chain. */
export function canonicalMessage(m: ChainedFields): string {
  return JSON.stringify([m.conversationId, m.seq, m.senderKind, m.senderId, m.type, m.body, m.createdAt]);
}

export function chainHash(prevHash: string, m: ChainedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalMessage(m)).digest('hex');
}
