import type { Role } from '../users.ts';

/**
 * Departments, groups (售前/售后/技术/VIP…) and who belongs where. Every member of staff reads the organisation (the
 * console shows group and department names, supervisors see who serves their department); only admins change it,
 * because membership decides which conversations an agent or supervisor may read (policies/conversations.ts).
 */
export const ORG_POLICY = {
  read: ['agent', 'supervisor', 'auditor', 'admin'],
  manage: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type OrgAction = keyof typeof ORG_POLICY;

export function mayOrg(role: Role, action: OrgAction): boolean {
  return (ORG_POLICY[action] as readonly Role[]).includes(role);
}
