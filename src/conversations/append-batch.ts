import type { Kysely } from 'kysely';
import { advanceReadMarkers } from './read-markers.ts';
import { newId, padToPowerOfTwo, powerOfTwoChunks, type ConversationState, type Database, type DialectName, type MessageType, type SenderKind } from '../store/index.ts';
import { chainHash } from './chain.ts';
// the tokenizer alone, not the archive module's index: the writer thread loads this file and needs nothing else of it
import { indexText } from '../archive/tokenizer.ts';
import { writeSearchDocs } from '../store/dialect/search.ts';
import type { UnindexedMessage } from '../archive/search-backlog.ts';
import { allocateSearchKeys } from '../store/search-keys.ts';
import { updateRowsByKey } from '../store/dialect/bulk-update.ts';
import { executeShaped, rowValues } from '../store/shaped-statements.ts';

const HEAD_COLUMNS = ['id', 'customer_id', 'state', 'last_seq', 'last_hash', 'first_response_at', 'assignee_id', 'group_id'] as const;
const MESSAGE_COLUMNS = ['id', 'conversation_id', 'seq', 'client_id', 'sender_kind', 'sender_id', 'type', 'body', 'created_at', 'hash', 'search_key'] as const;
const EVENT_COLUMNS = ['conversation_id', 'kind', 'actor_kind', 'actor_id', 'data', 'at'] as const;

export interface AppendInput {
  conversationId: string;
  /** the sender's idempotency key: a retry with the same key returns the first result */
  clientId: string | null;
  sender: { kind: SenderKind; id: string | null };
  type: MessageType;
  body: string;
  /** imports keep the original time; live messages use the commit time */
  createdAt?: number;
  /** a staff user who has read the conversation up to this message (an agent's own reply) */
  readBy?: string;
}

export interface StoredMessage {
  id: string;
  conversationId: string;
  customerId: string;
  seq: number;
  clientId: string | null;
  senderKind: SenderKind;
  senderId: string | null;
  type: MessageType;
  body: string;
  createdAt: number;
  hash: string;
}

export interface AppendResult {
  message: StoredMessage;
  /** true when the clientId was already stored and nothing new was written */
  duplicate: boolean;
  /** the conversation's state when the message was committed (a resolved one is reopened by the caller) */
  conversationState: ConversationState;
  /** who served the conversation when the message was committed (an unassigned one is claimed by a replying agent) */
  routing: ConversationRouting;
}

export class AppendError extends Error {
  constructor(public readonly code: 'conversation_not_found' | 'storage_failed', message: string) {
    super(message);
  }
}

/** Who serves a conversation at commit time: decides which staff receive its messages live. */
export interface ConversationRouting {
  assigneeId: string | null;
  groupId: string | null;
}

/**
 * Writes a batch of messages inside the caller's transaction: the rules of the message log in one place. Seq, hash
 * chain and idempotency are decided here, under the conversation rows' lock in PostgreSQL (in SQLite the transaction
 * holds the database's write lock). Used by the appender on the server's connection or on its writer thread, and by
 * imports inside their own transaction. `trx` may be a plain Kysely handle whose connection is already inside a
 * transaction (the writer thread begins and commits itself).
 *
 * With `unindexed`, the messages' search-index entries are not written but listed there, for the caller to write once
 * the transaction has committed (the SQLite writer thread, archive/search-backlog.ts).
 */
export async function writeMessageBatch(
  trx: Kysely<Database>,
  dialect: DialectName,
  inputs: AppendInput[],
  unindexed?: UnindexedMessage[],
): Promise<Array<AppendResult | AppendError>> {
  if (inputs.length === 0) return [];
  const convIds = padToPowerOfTwo([...new Set(inputs.map((i) => i.conversationId))]);
  const { rows: convRows } = await executeShaped<Pick<Database['conversation'], (typeof HEAD_COLUMNS)[number]>>(trx, `message-batch.heads:${dialect}:${convIds.length}`, convIds, () => {
    const q = trx.selectFrom('conversation').select(HEAD_COLUMNS).where('id', 'in', convIds);
    return dialect === 'postgres' ? q.orderBy('id').forUpdate() : q;
  });
  const heads = new Map(convRows.map((c) => [c.id, { ...c, last_seq: Number(c.last_seq), changed: false, lastAt: 0, routing: { assigneeId: c.assignee_id, groupId: c.group_id } }]));

  const keyed = inputs.filter((i) => i.clientId !== null);
  const existing = new Map<string, StoredMessage>();
  if (keyed.length > 0) {
    const pairs = padToPowerOfTwo(keyed);
    const { rows } = await executeShaped<Database['message']>(
      trx,
      `message-batch.prior:${dialect}:${pairs.length}`,
      pairs.flatMap((i) => [i.conversationId, i.clientId]),
      () =>
        trx
          .selectFrom('message')
          .selectAll()
          // (conversation_id, client_id) pairs: one index probe per message. Two separate IN lists make SQLite probe
          // every combination, |conversations| × |clientIds| per batch, which grows with the square of the batch size
          .where((eb) => eb(eb.refTuple('conversation_id', 'client_id'), 'in', pairs.map((i) => eb.tuple(i.conversationId, i.clientId!)))),
    );
    for (const r of rows) {
      const head = heads.get(r.conversation_id);
      existing.set(`${r.conversation_id}\u0000${r.client_id}`, toStored(r, head?.customer_id ?? ''));
    }
  }

  const now = Date.now();
  const out: Array<AppendResult | AppendError> = [];
  const inserts: Database['message'][] = [];
  /** stamped with the commit time, not an imported time */
  const live: boolean[] = [];
  const events: Array<Omit<Database['conversation_event'], 'id'>> = [];
  for (const input of inputs) {
    const head = heads.get(input.conversationId);
    if (!head) {
      out.push(new AppendError('conversation_not_found', `conversation ${input.conversationId} does not exist`));
      continue;
    }
    if (input.clientId !== null) {
      const key = `${input.conversationId}\u0000${input.clientId}`;
      const prior = existing.get(key);
      if (prior) {
        out.push({ message: prior, duplicate: true, conversationState: head.state, routing: head.routing });
        continue;
      }
    }
    const seq = head.last_seq + 1;
    const createdAt = input.createdAt ?? now;
    const fields = {
      conversationId: input.conversationId,
      seq,
      senderKind: input.sender.kind,
      senderId: input.sender.id,
      type: input.type,
      body: input.body,
      createdAt,
    };
    const hash = chainHash(head.last_hash, fields);
    const row: Database['message'] = {
      id: newId('msg'),
      conversation_id: input.conversationId,
      seq,
      client_id: input.clientId,
      sender_kind: input.sender.kind,
      sender_id: input.sender.id,
      type: input.type,
      body: input.body,
      created_at: createdAt,
      hash,
    };
    inserts.push(row);
    live.push(input.createdAt === undefined);
    head.last_seq = seq;
    head.last_hash = hash;
    head.changed = true;
    head.lastAt = createdAt;
    if (input.sender.kind === 'agent' && head.first_response_at === null) head.first_response_at = createdAt;
    events.push({
      conversation_id: input.conversationId,
      kind: 'message',
      actor_kind: input.sender.kind,
      actor_id: input.sender.id,
      data: JSON.stringify({ messageId: row.id, seq }),
      at: createdAt,
    });
    const stored = toStored(row, head.customer_id);
    if (input.clientId !== null) existing.set(`${input.conversationId}\u0000${input.clientId}`, stored);
    out.push({ message: stored, duplicate: false, conversationState: head.state, routing: head.routing });
  }

  const keys = await allocateSearchKeys(trx, inserts.map((m) => m.created_at), live);
  inserts.forEach((m, i) => (m.search_key = keys[i]!));
  // chunks keep each statement below SQLite's and PostgreSQL's bound-parameter limits, in a few sizes (powerOfTwoChunks)
  for (const chunk of powerOfTwoChunks(inserts)) {
    await executeShaped(trx, `message-batch.messages:${dialect}:${chunk.length}`, rowValues(chunk, MESSAGE_COLUMNS), () => trx.insertInto('message').values(chunk));
  }
  const searchable = inserts.filter((m) => m.type !== 'event');
  if (unindexed) for (const m of searchable) unindexed.push({ messageId: m.id, searchKey: m.search_key!, body: m.body });
  // the index entry commits with its message: a search never misses an acknowledged message
  else await writeSearchDocs(trx, dialect, searchable.map((m) => ({ messageId: m.id, searchKey: m.search_key!, tokens: indexText(m.body) })));
  for (const chunk of powerOfTwoChunks(events)) {
    await executeShaped(trx, `message-batch.events:${dialect}:${chunk.length}`, rowValues(chunk, EVENT_COLUMNS), () => trx.insertInto('conversation_event').values(chunk));
  }
  // an agent's first message in a conversation makes it a participant; later ones find the row and write nothing
  const participants = new Map<string, Database['conversation_participant']>();
  for (const m of inserts) {
    if (m.sender_kind === 'agent' && m.sender_id !== null) participants.set(`${m.conversation_id}\u0000${m.sender_id}`, { conversation_id: m.conversation_id, user_id: m.sender_id });
  }
  for (const chunk of powerOfTwoChunks([...participants.values()])) {
    await executeShaped(trx, `message-batch.participants:${dialect}:${chunk.length}`, rowValues(chunk, ['conversation_id', 'user_id']), () =>
      trx.insertInto('conversation_participant').values(chunk).onConflict((oc) => oc.columns(['conversation_id', 'user_id']).doNothing()),
    );
  }
  const readUpTo = new Map<string, { user_id: string; conversation_id: string; last_read_seq: number }>();
  inputs.forEach((input, i) => {
    const o = out[i];
    if (!input.readBy || !o || o instanceof AppendError) return;
    const key = `${input.readBy}\u0000${input.conversationId}`;
    const seq = o.message.seq;
    if ((readUpTo.get(key)?.last_read_seq ?? 0) < seq) readUpTo.set(key, { user_id: input.readBy, conversation_id: input.conversationId, last_read_seq: seq });
  });
  await advanceReadMarkers(trx, [...readUpTo.values()]);
  await updateRowsByKey(
    trx,
    dialect,
    'conversation',
    'id',
    { id: 'text', last_seq: 'integer', last_hash: 'text', last_message_at: 'bigint', first_response_at: 'bigint' },
    [...heads.values()].filter((h) => h.changed).map((h) => ({ id: h.id, last_seq: h.last_seq, last_hash: h.last_hash, last_message_at: h.lastAt, first_response_at: h.first_response_at })),
  );
  return out;
}

export function toStored(r: Database['message'], customerId: string): StoredMessage {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    customerId,
    seq: Number(r.seq),
    clientId: r.client_id,
    senderKind: r.sender_kind,
    senderId: r.sender_id,
    type: r.type,
    body: r.body,
    createdAt: Number(r.created_at),
    hash: r.hash,
  };
}
