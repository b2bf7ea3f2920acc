import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { inChunks, type Database } from '../../store/index.ts';
import type { Role } from '../users.ts';
import { groupIdsOf } from '../org.ts';

/** Who is asking: enough to decide what they may see without another query. */
export interface Viewer {
  id: string;
  login: string;
  role: Role;
  departmentId: string | null;
  groupIds: string[];
}

export async function viewerOf(db: Kysely<Database>, user: { id: string; login: string; role: Role; departmentId: string | null }): Promise<Viewer> {
  return { id: user.id, login: user.login, role: user.role, departmentId: user.departmentId, groupIds: await groupIdsOf(db, user.id) };
}

/**
 * Sensitive conversations: those of customers with a VIP level of 1 or more, and those tagged 敏感. Auditors read them
 * only through an approved grant (docs/SECURITY.md, "Access grants").
 */
export const SENSITIVE_VIP_LEVEL = 1;
export const SENSITIVE_TAG = '敏感';

function sensitive(eb: ExpressionBuilder<any, any>): Expression<SqlBool> {
  return eb.or([
    eb('c.customer_id', 'in', eb.selectFrom('customer as sc').select('sc.id').where('sc.vip_level', '>=', SENSITIVE_VIP_LEVEL)),
    eb('c.id', 'in', eb.selectFrom('conversation_tag as st').select('st.conversation_id').where('st.tag', '=', SENSITIVE_TAG)),
  ]);
}

/**
 * Conversations covered by a grant of the viewer that is valid now: approved, not revoked, not expired. Read from the
 * grant tables at every use rather than from the Viewer, so that a revocation or an expiry also ends access for
 * long-lived viewers (an open socket, a running export).
 */
function granted(eb: ExpressionBuilder<any, any>, viewer: Viewer, now: number, opts: { unmask?: boolean } = {}): Expression<SqlBool> {
  let grants = eb
    .selectFrom('access_grant_conversation as gc')
    .innerJoin('access_grant as g', 'g.id', 'gc.grant_id')
    .select('gc.conversation_id')
    .where('g.requester_id', '=', viewer.id)
    .where('g.state', '=', 'approved')
    .where('g.expires_at', '>', now);
  if (opts.unmask) grants = grants.where('g.unmask', '=', 1);
  return eb('c.id', 'in', grants);
}

/**
 * What a viewer's role gives them, without grants:
 * - agent: assigned to them, or in one of their groups, or in the general queue (no group, nobody assigned), or one
 *   they wrote in;
 * - supervisor: everything of their department's groups and agents (its members and the members of its groups), and
 *   the general queue;
 * - auditor: every conversation that is not sensitive, read-only;
 * - admin: none — configuration only.
 */
function ownScope(viewer: Viewer, eb: ExpressionBuilder<any, any>): Expression<SqlBool> {
  const generalQueue = eb.and([eb('c.group_id', 'is', null), eb('c.assignee_id', 'is', null)]);
  switch (viewer.role) {
    case 'auditor':
      return eb.not(sensitive(eb));
    case 'admin':
      return sql<SqlBool>`1 = 0`;
    case 'agent': {
      const ors: Expression<SqlBool>[] = [eb('c.assignee_id', '=', viewer.id), generalQueue];
      if (viewer.groupIds.length > 0) ors.push(eb('c.group_id', 'in', viewer.groupIds));
      ors.push(eb.exists(eb.selectFrom('conversation_participant as cp').select('cp.user_id').whereRef('cp.conversation_id', '=', 'c.id').where('cp.user_id', '=', viewer.id)));
      return eb.or(ors);
    }
    case 'supervisor': {
      const ors: Expression<SqlBool>[] = [eb('c.assignee_id', '=', viewer.id), generalQueue];
      if (viewer.departmentId) {
        ors.push(eb('c.group_id', 'in', eb.selectFrom('agent_group').select('agent_group.id').where('agent_group.department_id', '=', viewer.departmentId)));
        ors.push(eb('c.assignee_id', 'in', eb.selectFrom('app_user').select('app_user.id').where('app_user.department_id', '=', viewer.departmentId)));
        // agents serving the department's groups count as the department's, whatever their own department says
        ors.push(
          eb(
            'c.assignee_id',
            'in',
            eb
              .selectFrom('group_member')
              .innerJoin('agent_group', 'agent_group.id', 'group_member.group_id')
              .select('group_member.user_id')
              .where('agent_group.department_id', '=', viewer.departmentId),
          ),
        );
      }
      if (viewer.groupIds.length > 0) ors.push(eb('c.group_id', 'in', viewer.groupIds));
      return eb.or(ors);
    }
  }
}

/**
 * The one rule of which conversations a viewer may read, as a condition on the conversation alias `c`: their role's
 * own scope (see ownScope), or a grant of theirs that is valid at the moment the query is built.
 */
export function conversationScope(viewer: Viewer) {
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => eb.or([ownScope(viewer, eb), granted(eb, viewer, Date.now())]);
}

/**
 * How a refusal to read is reported. Auditors may know that every conversation exists (their role covers all of them,
 * the sensitive ones behind a grant), so they are told a grant is needed; anyone else is told it does not exist, so
 * ids cannot be probed.
 */
export function unreadableAs(viewer: Viewer): 'grant_required' | 'not_found' {
  return viewer.role === 'auditor' ? 'grant_required' : 'not_found';
}

export async function canReadConversation(db: Kysely<Database>, viewer: Viewer, conversationId: string): Promise<boolean> {
  const r = await db.selectFrom('conversation as c').select('c.id').where('c.id', '=', conversationId).where(conversationScope(viewer)).executeTakeFirst();
  return r !== undefined;
}

/**
 * Writing (replying, resolving) is for the staff who serve customers, within their own scope: a grant lets read only.
 * As a condition on `c`, for queries that read a conversation and this permission together (the reply path).
 */
export function writeScope(viewer: Viewer) {
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => (viewer.role === 'agent' || viewer.role === 'supervisor' ? ownScope(viewer, eb) : sql<SqlBool>`1 = 0`);
}

export async function canWriteConversation(db: Kysely<Database>, viewer: Viewer, conversationId: string): Promise<boolean> {
  if (viewer.role !== 'agent' && viewer.role !== 'supervisor') return false;
  const r = await db.selectFrom('conversation as c').select('c.id').where('c.id', '=', conversationId).where(writeScope(viewer)).executeTakeFirst();
  return r !== undefined;
}

/** A customer's profile is visible with any of their conversations. */
export async function canReadCustomer(db: Kysely<Database>, viewer: Viewer, customerId: string): Promise<boolean> {
  const r = await db.selectFrom('conversation as c').select('c.id').where('c.customer_id', '=', customerId).where(conversationScope(viewer)).limit(1).executeTakeFirst();
  return r !== undefined;
}

/**
 * The grant through which a viewer reads a conversation (or a customer, through any of their conversations), for the
 * audit trail: null when their own scope covers it, or when nothing does.
 */
export async function grantUsedFor(db: Kysely<Database>, viewer: Viewer, target: { conversationId: string } | { customerId: string }): Promise<string | null> {
  const which = (eb: ExpressionBuilder<any, any>) => ('conversationId' in target ? eb('c.id', '=', target.conversationId) : eb('c.customer_id', '=', target.customerId));
  const own = await db.selectFrom('conversation as c').select('c.id').where(which).where((eb) => ownScope(viewer, eb)).limit(1).executeTakeFirst();
  if (own) return null;
  const g = await db
    .selectFrom('access_grant_conversation as gc')
    .innerJoin('access_grant as g', 'g.id', 'gc.grant_id')
    .innerJoin('conversation as c', 'c.id', 'gc.conversation_id')
    .select('g.id')
    .where(which)
    .where('g.requester_id', '=', viewer.id)
    .where('g.state', '=', 'approved')
    .where('g.expires_at', '>', Date.now())
    .orderBy('g.expires_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return g?.id ?? null;
}

/** Which of these conversations are sensitive: live events of those must not reach the auditors' room. */
export async function sensitiveAmong(db: Kysely<Database>, conversationIds: readonly string[]): Promise<Set<string>> {
  if (conversationIds.length === 0) return new Set();
  const rows = await db.selectFrom('conversation as c').select('c.id').where('c.id', 'in', [...new Set(conversationIds)]).where(sensitive).execute();
  return new Set(rows.map((r) => r.id));
}

/**
 * Unmasking (解除脱敏): the original text of a conversation, with its phone, ID card and bank card numbers and emails,
 * is shown only to the holder of a valid grant that allows unmasking and covers the conversation — whatever their
 * role: even a conversation in one's own scope is shown masked without one. Read, like `granted`, at every use.
 */
function unmaskGranted(eb: ExpressionBuilder<any, any>, viewer: Viewer, now: number): Expression<SqlBool> {
  return granted(eb, viewer, now, { unmask: true });
}

/** The conversations (alias `c`) a viewer may see unmasked now: for an explicit unmasked export. */
export function unmaskScope(viewer: Viewer) {
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => unmaskGranted(eb, viewer, Date.now());
}

/** The viewer's grants that allow unmasking and are valid now: an unmasked export needs at least one. */
export async function unmaskGrantsOf(db: Kysely<Database>, viewer: Viewer): Promise<string[]> {
  const rows = await db
    .selectFrom('access_grant')
    .select('id')
    .where('requester_id', '=', viewer.id)
    .where('state', '=', 'approved')
    .where('unmask', '=', 1)
    .where('expires_at', '>', Date.now())
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Which of these conversations a valid unmask grant of the viewer covers (the customer page's 显示原文): unmaskScope's rule. */
export async function unmaskableAmong(db: Kysely<Database>, viewer: Viewer, conversationIds: readonly string[]): Promise<string[]> {
  const rows = await inChunks(conversationIds, (chunk) => db.selectFrom('conversation as c').select('c.id').where('c.id', 'in', chunk).where(unmaskScope(viewer)).execute());
  const covered = new Set(rows.map((r) => r.id));
  return conversationIds.filter((id) => covered.has(id));
}

/** The valid unmask grant through which a viewer may see this conversation unmasked (the one expiring last), or null. */
export async function unmaskGrantFor(db: Kysely<Database>, viewer: Viewer, conversationId: string): Promise<string | null> {
  const g = await db
    .selectFrom('access_grant_conversation as gc')
    .innerJoin('access_grant as g', 'g.id', 'gc.grant_id')
    .select('g.id')
    .where('gc.conversation_id', '=', conversationId)
    .where('g.requester_id', '=', viewer.id)
    .where('g.state', '=', 'approved')
    .where('g.unmask', '=', 1)
    .where('g.expires_at', '>', Date.now())
    .orderBy('g.expires_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return g?.id ?? null;
}
