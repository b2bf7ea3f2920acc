import type { Kysely } from 'kysely';
import type { Database } from '../../store/index.ts';
import type { AuditActor } from '../audit.ts';
import { PolicyError } from '../auth-policy.ts';
import { readSetting, writeSetting } from '../settings.ts';
import { ROLES, type Role } from '../users.ts';

/**
 * Who decides on access requests (申请-审批): admins, plus the roles an admin adds with the grant-approver-roles setting
 * (`kefu settings set grant-approver-roles admin,supervisor`, PUT /api/v1/admin/settings/grant-approvers), and the
 * local operator at the server's own console. Nobody decides on their own request, whatever their role.
 */
export const ALWAYS_APPROVER: readonly Role[] = ['admin'];

const APPROVER_ROLES_KEY = 'grantApproverRoles';

/** The roles whose members approve or deny requests, in role order (always including admin). */
export async function grantApproverRoles(db: Kysely<Database>): Promise<Role[]> {
  const stored = (await readSetting<string[]>(db, APPROVER_ROLES_KEY)) ?? [];
  return ROLES.filter((r) => ALWAYS_APPROVER.includes(r) || stored.includes(r));
}

/** Sets the approver roles; returns the previous and the new list, for the config.change audit event. */
export async function setGrantApproverRoles(db: Kysely<Database>, roles: readonly string[]): Promise<{ from: Role[]; to: Role[] }> {
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw new PolicyError(`unknown role ${unknown.join(', ')}: roles are ${ROLES.join(', ')}`);
  const missing = ALWAYS_APPROVER.filter((r) => !roles.includes(r));
  if (missing.length > 0) throw new PolicyError(`${ALWAYS_APPROVER.join(' and ')} always decide on access requests; the list must include ${missing.join(', ')}`);
  const from = await grantApproverRoles(db);
  const to = ROLES.filter((r) => roles.includes(r));
  await writeSetting(db, APPROVER_ROLES_KEY, to);
  return { from, to };
}

/** Whether an actor decides on requests at all: a member of an approver role, or the local operator (id null). */
export function mayDecide(actor: AuditActor, approverRoles: readonly Role[]): boolean {
  return actor.id === null || approverRoles.includes(actor.role as Role);
}

/** Whether an actor may decide on this request: an approver who is not its requester. */
export function mayDecideOn(actor: AuditActor, requesterId: string, approverRoles: readonly Role[]): 'ok' | 'not_approver' | 'own_request' {
  if (!mayDecide(actor, approverRoles)) return 'not_approver';
  if (actor.id !== null && actor.id === requesterId) return 'own_request';
  return 'ok';
}
