import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { GENESIS_HASH, chainHash } from '../conversations/chain.ts';

export interface MessageChainBreak {
  conversationId: string;
  seq: number;
  reason: string;
}

export interface ChainReport {
  conversations: number;
  messages: number;
  broken: MessageChainBreak | null;
}

/**
 * Recomputes every conversation's message chain: seq must run 1, 2, 3… without gaps, each hash must follow from the
 * previous hash and the message's own fields, and the conversation's recorded head (last seq and hash) must be the
 * chain's end — so a changed, removed, reordered or inserted message is found even when triggers were dropped.
 */
export async function verifyMessageChains(db: Kysely<Database>, onProgress?: (conversations: number) => void): Promise<ChainReport> {
  let conversations = 0;
  let messages = 0;
  let after = '';
  for (;;) {
    const heads = await db.selectFrom('conversation').select(['id', 'last_seq', 'last_hash']).where('id', '>', after).orderBy('id').limit(500).execute();
    if (heads.length === 0) return { conversations, messages, broken: null };
    for (const head of heads) {
      after = head.id;
      const rows = await db.selectFrom('message').selectAll().where('conversation_id', '=', head.id).orderBy('seq').execute();
      let prev = GENESIS_HASH;
      let expectedSeq = 1;
      for (const m of rows) {
        const seq = Number(m.seq);
        if (seq !== expectedSeq) {
          return { conversations, messages, broken: { conversationId: head.id, seq: expectedSeq, reason: seq > expectedSeq ? `message seq ${expectedSeq} is missing (next stored is ${seq})` : `seq ${seq} appears out of order` } };
        }
        const h = chainHash(prev, { conversationId: m.conversation_id, seq, senderKind: m.sender_kind, senderId: m.sender_id, type: m.type, body: m.body, createdAt: Number(m.created_at) });
        if (h !== m.hash) return { conversations, messages, broken: { conversationId: head.id, seq, reason: `message seq ${seq} does not match its hash: its content, sender, type or time was changed` } };
        prev = h;
        expectedSeq++;
        messages++;
      }
      const lastSeq = Number(head.last_seq);
      if (rows.length !== lastSeq) {
        return { conversations, messages, broken: { conversationId: head.id, seq: rows.length + 1, reason: `the conversation records ${lastSeq} messages but ${rows.length} are stored: messages after seq ${rows.length} were removed` } };
      }
      if (prev !== head.last_hash) {
        return { conversations, messages, broken: { conversationId: head.id, seq: lastSeq, reason: 'the chain does not end at the conversation’s recorded head hash' } };
      }
      conversations++;
    }
    onProgress?.(conversations);
  }
}
