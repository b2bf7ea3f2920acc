import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database } from '../../store/index.ts';
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
 * The one rule of which conversations a viewer may read, as a condition on the conversation alias `c`:
 * - agent: assigned to them, or in one of their groups, or in the general queue (no group, nobody assigned), or one
 *   they wrote in;
 * - supervisor: everything of their department's groups and agents (its members and the members of its groups), and
 *   the general queue;
 * - auditor: every conversation, read-only;
 * - admin: none — configuration only; content needs an approved grant (governance issue).
 */
export function conversationScope(viewer: Viewer) {
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => {
    const generalQueue = eb.and([eb('c.group_id', 'is', null), eb('c.assignee_id', 'is', null)]);
    switch (viewer.role) {
      case 'auditor':
        return sql<SqlBool>`1 = 1`;
      case 'admin':
        return sql<SqlBool>`1 = 0`;
      case 'agent': {
        const ors: Expression<SqlBool>[] = [eb('c.assignee_id', '=', viewer.id), generalQueue];
        if (viewer.groupIds.length > 0) ors.push(eb('c.group_id', 'in', viewer.groupIds));
        ors.push(eb.exists(eb.selectFrom('message as pm').select('pm.id').whereRef('pm.conversation_id', '=', 'c.id').where('pm.sender_id', '=', viewer.id)));
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
  };
}

export async function canReadConversation(db: Kysely<Database>, viewer: Viewer, conversationId: string): Promise<boolean> {
  const r = await db.selectFrom('conversation as c').select('c.id').where('c.id', '=', conversationId).where(conversationScope(viewer)).executeTakeFirst();
  return r !== undefined;
}

/** Writing (replying, resolving) is for the staff who serve customers, within what they may read. */
export async function canWriteConversation(db: Kysely<Database>, viewer: Viewer, conversationId: string): Promise<boolean> {
  if (viewer.role !== 'agent' && viewer.role !== 'supervisor') return false;
  return canReadConversation(db, viewer, conversationId);
}

/** A customer's profile is visible with any of their conversations. */
export async function canReadCustomer(db: Kysely<Database>, viewer: Viewer, customerId: string): Promise<boolean> {
  const r = await db.selectFrom('conversation as c').select('c.id').where('c.customer_id', '=', customerId).where(conversationScope(viewer)).limit(1).executeTakeFirst();
  return r !== undefined;
}
