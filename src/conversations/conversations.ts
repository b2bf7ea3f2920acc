import { EventEmitter } from 'node:events';
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from 'kysely';
import { newId, type ConversationState, type Database } from '../store/index.ts';
import { GENESIS_HASH } from './chain.ts';
import { advanceReadMarkers } from './read-markers.ts';
import { conversationScope, type Viewer } from '../governance/policies/conversations.ts';
import { toStored, type StoredMessage } from './appender.ts';

export interface Conversation {
  id: string;
  externalId: string | null;
  customerId: string;
  channel: string;
  groupId: string | null;
  assigneeId: string | null;
  state: ConversationState;
  lastSeq: number;
  lastMessageAt: number;
  createdAt: number;
  firstResponseAt: number | null;
  resolvedAt: number | null;
}

type Row = Database['conversation'];

/** State changes of conversations (claimed, resolved, reopened), fanned out to consoles by the gateway. */
export class ConversationUpdates extends EventEmitter<{ updated: [Conversation] }> {}

function toConversation(r: Row): Conversation {
  return {
    id: r.id,
    externalId: r.external_id,
    customerId: r.customer_id,
    channel: r.channel,
    groupId: r.group_id,
    assigneeId: r.assignee_id,
    state: r.state,
    lastSeq: Number(r.last_seq),
    lastMessageAt: Number(r.last_message_at),
    createdAt: Number(r.created_at),
    firstResponseAt: r.first_response_at === null ? null : Number(r.first_response_at),
    resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
  };
}

export interface OpenConversationInput {
  customerId: string;
  channel: string;
  /** clientId of the first message: a retried first send finds this conversation again */
  openClientId?: string | null;
  externalId?: string | null;
  createdAt?: number;
  state?: ConversationState;
}

/** Opens a conversation, or returns the one this customer already opened with the same first clientId. */
export async function openConversation(db: Kysely<Database>, input: OpenConversationInput): Promise<{ conversation: Conversation; created: boolean }> {
  const openClientId = input.openClientId ?? null;
  if (openClientId !== null) {
    const prior = await db
      .selectFrom('conversation')
      .selectAll()
      .where('customer_id', '=', input.customerId)
      .where('open_client_id', '=', openClientId)
      .executeTakeFirst();
    if (prior) return { conversation: toConversation(prior), created: false };
  }
  const at = input.createdAt ?? Date.now();
  const row: Row = {
    id: newId('conv'),
    external_id: input.externalId ?? null,
    customer_id: input.customerId,
    open_client_id: openClientId,
    channel: input.channel,
    group_id: null,
    assignee_id: null,
    state: input.state ?? 'queued',
    last_seq: 0,
    last_hash: GENESIS_HASH,
    last_message_at: at,
    created_at: at,
    first_response_at: null,
    resolved_at: null,
  };
  const write = async (trx: Kysely<Database>) => {
    await trx.insertInto('conversation').values(row).execute();
    await trx
      .insertInto('conversation_event')
      .values({ conversation_id: row.id, kind: 'created', actor_kind: 'customer', actor_id: input.customerId, data: JSON.stringify({ channel: input.channel }), at })
      .execute();
  };
  try {
    // inside a caller's transaction (an import writing a whole conversation atomically) write in it
    if (db.isTransaction) await write(db);
    else await db.transaction().execute(write);
  } catch (err) {
    if (db.isTransaction) throw err;
    // two concurrent retries of the same first send: the loser reads the winner's conversation
    if (openClientId !== null) {
      const winner = await db.selectFrom('conversation').selectAll().where('customer_id', '=', input.customerId).where('open_client_id', '=', openClientId).executeTakeFirst();
      if (winner) return { conversation: toConversation(winner), created: false };
    }
    throw err;
  }
  return { conversation: toConversation(row), created: true };
}

export async function getConversation(db: Kysely<Database>, id: string): Promise<Conversation | undefined> {
  const r = await db.selectFrom('conversation').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toConversation(r);
}

/** A conversation and whether it meets a condition on `c` (a policy's scope), in one query. */
export async function getConversationIf(db: Kysely<Database>, id: string, condition: (eb: ExpressionBuilder<Database & { c: Database['conversation'] }, 'c'>) => Expression<SqlBool>): Promise<{ conversation: Conversation; met: boolean } | undefined> {
  const r = await db
    .selectFrom('conversation as c')
    .selectAll('c')
    .select((eb) => eb.case().when(condition(eb)).then(1).else(0).end().as('met'))
    .where('c.id', '=', id)
    .executeTakeFirst();
  if (!r) return undefined;
  const { met, ...row } = r;
  return { conversation: toConversation(row), met: Number(met) === 1 };
}

export interface InboxItem extends Conversation {
  customerName: string;
  unread: number;
  lastMessage: { senderKind: string; type: string; body: string; createdAt: number } | null;
}

/** Open conversations for the console's inbox, newest activity first, with the viewer's unread counts. */
export async function listInbox(db: Kysely<Database>, viewer: Viewer, opts: { limit?: number; before?: number } = {}): Promise<InboxItem[]> {
  const viewerId = viewer.id;
  let q = db
    .selectFrom('conversation as c')
    .innerJoin('customer as cu', 'cu.id', 'c.customer_id')
    .leftJoin('read_marker as rm', (j) => j.onRef('rm.conversation_id', '=', 'c.id').on('rm.user_id', '=', viewerId))
    .leftJoin('message as m', (j) => j.onRef('m.conversation_id', '=', 'c.id').onRef('m.seq', '=', 'c.last_seq'))
    .selectAll('c')
    .select(['cu.name as customer_name', 'rm.last_read_seq', 'm.sender_kind as m_sender_kind', 'm.type as m_type', 'm.body as m_body', 'm.created_at as m_created_at'])
    .where('c.state', 'in', ['bot', 'queued', 'assigned'])
    .where(conversationScope(viewer))
    .orderBy('c.last_message_at', 'desc')
    .limit(Math.min(opts.limit ?? 100, 500));
  if (opts.before !== undefined) q = q.where('c.last_message_at', '<', opts.before);
  const rows = await q.execute();
  return rows.map((r) => ({
    ...toConversation(r),
    customerName: r.customer_name,
    unread: Math.max(0, Number(r.last_seq) - Number(r.last_read_seq ?? 0)),
    lastMessage:
      r.m_body === null || r.m_body === undefined
        ? null
        : { senderKind: r.m_sender_kind as string, type: r.m_type as string, body: r.m_body, createdAt: Number(r.m_created_at) },
  }));
}

/** A customer's conversations, newest first; with a viewer, only those the viewer may read. */
export async function listCustomerConversations(db: Kysely<Database>, customerId: string, viewer?: Viewer): Promise<Conversation[]> {
  let q = db.selectFrom('conversation as c').selectAll('c').where('c.customer_id', '=', customerId).orderBy('c.created_at', 'desc');
  if (viewer) q = q.where(conversationScope(viewer));
  const rows = await q.execute();
  return rows.map(toConversation);
}

/** Messages after a seq, oldest first: what a reconnecting client missed. */
export async function listMessagesAfter(db: Kysely<Database>, conversationId: string, afterSeq: number, limit = 1000): Promise<StoredMessage[]> {
  const rows = await db
    .selectFrom('message as m')
    .innerJoin('conversation as c', 'c.id', 'm.conversation_id')
    .selectAll('m')
    .select('c.customer_id')
    .where('m.conversation_id', '=', conversationId)
    .where('m.seq', '>', afterSeq)
    .orderBy('m.seq', 'asc')
    .limit(limit)
    .execute();
  return rows.map((r) => toStored(r, r.customer_id));
}

export async function markRead(db: Kysely<Database>, userId: string, conversationId: string, seq: number): Promise<void> {
  await advanceReadMarkers(db, [{ user_id: userId, conversation_id: conversationId, last_read_seq: seq }]);
}

export async function resolveConversation(db: Kysely<Database>, id: string, actorId: string): Promise<Conversation | undefined> {
  const at = Date.now();
  await db.transaction().execute(async (trx) => {
    const res = await trx.updateTable('conversation').set({ state: 'resolved', resolved_at: at }).where('id', '=', id).where('state', '!=', 'resolved').executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) {
      await trx.insertInto('conversation_event').values({ conversation_id: id, kind: 'resolved', actor_kind: 'agent', actor_id: actorId, data: '{}', at }).execute();
    }
  });
  return getConversation(db, id);
}

/** The first agent to reply takes an unassigned conversation (routing proper comes with the routing module). */
export async function claimIfUnassigned(db: Kysely<Database>, id: string, agentId: string): Promise<boolean> {
  const at = Date.now();
  return db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable('conversation')
      .set({ assignee_id: agentId, state: 'assigned' })
      .where('id', '=', id)
      .where('assignee_id', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await trx.insertInto('conversation_event').values({ conversation_id: id, kind: 'assigned', actor_kind: 'agent', actor_id: agentId, data: JSON.stringify({ assigneeId: agentId }), at }).execute();
    return true;
  });
}

/** A customer writing into a resolved conversation brings it back to the inbox: to its agent, or to the queue. */
export async function reopenIfResolved(db: Kysely<Database>, id: string, actor: { kind: 'customer' | 'agent'; id: string | null }): Promise<Conversation | undefined> {
  const at = Date.now();
  const reopened = await db.transaction().execute(async (trx) => {
    const c = await trx.selectFrom('conversation').select(['state', 'assignee_id']).where('id', '=', id).executeTakeFirst();
    if (!c || (c.state !== 'resolved' && c.state !== 'closed')) return false;
    await trx
      .updateTable('conversation')
      .set({ state: c.assignee_id ? 'assigned' : 'queued', resolved_at: null })
      .where('id', '=', id)
      .execute();
    await trx.insertInto('conversation_event').values({ conversation_id: id, kind: 'reopened', actor_kind: actor.kind, actor_id: actor.id, data: '{}', at }).execute();
    return true;
  });
  return reopened ? getConversation(db, id) : undefined;
}
