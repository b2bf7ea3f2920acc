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

/** A message whose seq, hash and id are decided: what the log holds and what writeDecided stores. */
export interface DecidedMessage {
  message: StoredMessage;
  /** a staff user who has read the conversation up to this message */
  readBy: string | null;
  /** stamped with the decision time, not an imported time (search keys: store/search-keys.ts) */
  live: boolean;
}

/**
 * Messages decided but not yet in the database (the SQLite message log, message-log.ts): the decisions of a batch
 * read the database and then this, which is newer for every conversation it names.
 */
export interface UnappliedMessages {
  /** the newest decided message of the conversation, if one is not applied yet */
  head(conversationId: string): { seq: number; hash: string } | undefined;
  /** a message not applied yet with this idempotency key */
  prior(conversationId: string, clientId: string): StoredMessage | undefined;
}

/** What decideAppends produced: an outcome per input, in input order, and the new messages to store. */
export interface Decisions {
  outcomes: Array<AppendResult | AppendError>;
  fresh: DecidedMessage[];
  /** the conversation rows the decisions read, by id */
  heads: Map<string, HeadRow>;
}

type HeadRow = Pick<Database['conversation'], (typeof HEAD_COLUMNS)[number]>;

/**
 * The rules of the message log in one place: seq, hash chain and idempotency for a batch of appends. Reads the
 * conversations' heads and the batch's prior clientIds from `db` (in PostgreSQL under the conversation rows' lock:
 * `db` is then the caller's transaction), then `unapplied` for what the database does not have yet. Writes nothing:
 * writeDecided stores what this decided, in the same transaction (writeMessageBatch) or after the decisions are in
 * the message log (the SQLite writer threads).
 */
export async function decideAppends(db: Kysely<Database>, dialect: DialectName, inputs: AppendInput[], unapplied?: UnappliedMessages): Promise<Decisions> {
  if (inputs.length === 0) return { outcomes: [], fresh: [], heads: new Map() };
  const convIds = padToPowerOfTwo([...new Set(inputs.map((i) => i.conversationId))]);
  const { rows: convRows } = await executeShaped<HeadRow>(db, `message-batch.heads:${dialect}:${convIds.length}`, convIds, () => {
    const q = db.selectFrom('conversation').select(HEAD_COLUMNS).where('id', 'in', convIds);
    return dialect === 'postgres' ? q.orderBy('id').forUpdate() : q;
  });
  const rowsById = new Map(convRows.map((c) => [c.id, c]));
  const heads = new Map(
    convRows.map((c) => {
      const newer = unapplied?.head(c.id);
      return [c.id, { ...c, last_seq: newer?.seq ?? Number(c.last_seq), last_hash: newer?.hash ?? c.last_hash, routing: { assigneeId: c.assignee_id, groupId: c.group_id } }];
    }),
  );

  const keyed = inputs.filter((i) => i.clientId !== null && heads.has(i.conversationId));
  const existing = new Map<string, StoredMessage>();
  const lookedUp = keyed.filter((i) => {
    const prior = unapplied?.prior(i.conversationId, i.clientId!);
    if (prior) existing.set(`${i.conversationId}\u0000${i.clientId}`, prior);
    return !prior;
  });
  if (lookedUp.length > 0) {
    const pairs = padToPowerOfTwo(lookedUp);
    const { rows } = await executeShaped<Database['message']>(
      db,
      `message-batch.prior:${dialect}:${pairs.length}`,
      pairs.flatMap((i) => [i.conversationId, i.clientId]),
      () =>
        db
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
  const outcomes: Array<AppendResult | AppendError> = [];
  const fresh: DecidedMessage[] = [];
  for (const input of inputs) {
    const head = heads.get(input.conversationId);
    if (!head) {
      outcomes.push(new AppendError('conversation_not_found', `conversation ${input.conversationId} does not exist`));
      continue;
    }
    if (input.clientId !== null) {
      const prior = existing.get(`${input.conversationId}\u0000${input.clientId}`);
      if (prior) {
        outcomes.push({ message: prior, duplicate: true, conversationState: head.state, routing: head.routing });
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
    const message: StoredMessage = { id: newId('msg'), customerId: head.customer_id, clientId: input.clientId, hash, ...fields };
    head.last_seq = seq;
    head.last_hash = hash;
    fresh.push({ message, readBy: input.readBy ?? null, live: input.createdAt === undefined });
    if (input.clientId !== null) existing.set(`${input.conversationId}\u0000${input.clientId}`, message);
    outcomes.push({ message, duplicate: false, conversationState: head.state, routing: head.routing });
  }
  return { outcomes, fresh, heads: rowsById };
}

/**
 * Stores decided messages inside the caller's transaction: the rows, their search keys and index entries, the
 * conversation events, participants, read markers and the conversations' heads. The messages of a conversation must
 * follow its stored head (seq = last_seq + 1, and so on): anything else is refused, so a decision can never be
 * stored twice or out of order. `heads` are the conversation rows as this transaction read them, when the caller has
 * them (writeMessageBatch); otherwise they are read here.
 *
 * With `unindexed`, the messages' search-index entries are not written but listed there, for the caller to write once
 * the transaction has committed (the SQLite writer thread, archive/search-backlog.ts).
 */
export async function writeDecided(
  trx: Kysely<Database>,
  dialect: DialectName,
  decided: DecidedMessage[],
  opts: { unindexed?: UnindexedMessage[]; heads?: Map<string, Pick<HeadRow, 'id' | 'last_seq' | 'first_response_at'>> } = {},
): Promise<void> {
  if (decided.length === 0) return;
  let heads = opts.heads;
  if (!heads) {
    const convIds = padToPowerOfTwo([...new Set(decided.map((d) => d.message.conversationId))]);
    const { rows } = await executeShaped<Pick<HeadRow, 'id' | 'last_seq' | 'first_response_at'>>(trx, `message-batch.stored-heads:${dialect}:${convIds.length}`, convIds, () =>
      trx.selectFrom('conversation').select(['id', 'last_seq', 'first_response_at']).where('id', 'in', convIds),
    );
    heads = new Map(rows.map((r) => [r.id, r]));
  }
  const changed = new Map<string, { id: string; last_seq: number; last_hash: string; last_message_at: number; first_response_at: number | null }>();
  const inserts: Database['message'][] = [];
  const events: Array<Omit<Database['conversation_event'], 'id'>> = [];
  const participants = new Map<string, Database['conversation_participant']>();
  const readUpTo = new Map<string, { user_id: string; conversation_id: string; last_read_seq: number }>();
  for (const { message: m, readBy } of decided) {
    const head = heads.get(m.conversationId);
    const before = changed.get(m.conversationId)?.last_seq ?? (head ? Number(head.last_seq) : undefined);
    if (before === undefined || m.seq !== before + 1) {
      throw new Error(`message ${m.id} has seq ${m.seq} in conversation ${m.conversationId}, whose stored head is ${before ?? 'missing'}: not stored`);
    }
    const firstResponse = changed.get(m.conversationId)?.first_response_at ?? head!.first_response_at ?? null;
    changed.set(m.conversationId, {
      id: m.conversationId,
      last_seq: m.seq,
      last_hash: m.hash,
      last_message_at: m.createdAt,
      first_response_at: firstResponse ?? (m.senderKind === 'agent' ? m.createdAt : null),
    });
    inserts.push({
      id: m.id,
      conversation_id: m.conversationId,
      seq: m.seq,
      client_id: m.clientId,
      sender_kind: m.senderKind,
      sender_id: m.senderId,
      type: m.type,
      body: m.body,
      created_at: m.createdAt,
      hash: m.hash,
    });
    events.push({ conversation_id: m.conversationId, kind: 'message', actor_kind: m.senderKind, actor_id: m.senderId, data: JSON.stringify({ messageId: m.id, seq: m.seq }), at: m.createdAt });
    // an agent's first message in a conversation makes it a participant; later ones find the row and write nothing
    if (m.senderKind === 'agent' && m.senderId !== null) participants.set(`${m.conversationId}\u0000${m.senderId}`, { conversation_id: m.conversationId, user_id: m.senderId });
    if (readBy) {
      const key = `${readBy}\u0000${m.conversationId}`;
      if ((readUpTo.get(key)?.last_read_seq ?? 0) < m.seq) readUpTo.set(key, { user_id: readBy, conversation_id: m.conversationId, last_read_seq: m.seq });
    }
  }

  const keys = await allocateSearchKeys(trx, inserts.map((m) => m.created_at), decided.map((d) => d.live));
  inserts.forEach((m, i) => (m.search_key = keys[i]!));
  // chunks keep each statement below SQLite's and PostgreSQL's bound-parameter limits, in a few sizes (powerOfTwoChunks)
  for (const chunk of powerOfTwoChunks(inserts)) {
    await executeShaped(trx, `message-batch.messages:${dialect}:${chunk.length}`, rowValues(chunk, MESSAGE_COLUMNS), () => trx.insertInto('message').values(chunk));
  }
  const searchable = inserts.filter((m) => m.type !== 'event');
  if (opts.unindexed) for (const m of searchable) opts.unindexed.push({ messageId: m.id, searchKey: m.search_key!, body: m.body });
  // the index entry commits with its message: a search never misses an acknowledged message
  else await writeSearchDocs(trx, dialect, searchable.map((m) => ({ messageId: m.id, searchKey: m.search_key!, tokens: indexText(m.body) })));
  for (const chunk of powerOfTwoChunks(events)) {
    await executeShaped(trx, `message-batch.events:${dialect}:${chunk.length}`, rowValues(chunk, EVENT_COLUMNS), () => trx.insertInto('conversation_event').values(chunk));
  }
  for (const chunk of powerOfTwoChunks([...participants.values()])) {
    await executeShaped(trx, `message-batch.participants:${dialect}:${chunk.length}`, rowValues(chunk, ['conversation_id', 'user_id']), () =>
      trx.insertInto('conversation_participant').values(chunk).onConflict((oc) => oc.columns(['conversation_id', 'user_id']).doNothing()),
    );
  }
  await advanceReadMarkers(trx, [...readUpTo.values()]);
  await updateRowsByKey(trx, dialect, 'conversation', 'id', { id: 'text', last_seq: 'integer', last_hash: 'text', last_message_at: 'bigint', first_response_at: 'bigint' }, [...changed.values()]);
}

/**
 * Decides and stores a batch inside the caller's transaction: PostgreSQL's appender, the CLI, imports. `trx` may be a
 * plain Kysely handle whose connection is already inside a transaction.
 */
export async function writeMessageBatch(trx: Kysely<Database>, dialect: DialectName, inputs: AppendInput[], unindexed?: UnindexedMessage[]): Promise<Array<AppendResult | AppendError>> {
  const { outcomes, fresh, heads } = await decideAppends(trx, dialect, inputs);
  await writeDecided(trx, dialect, fresh, { unindexed, heads });
  return outcomes;
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
