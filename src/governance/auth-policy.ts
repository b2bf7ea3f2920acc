import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { ROLES, type Role } from './users.ts';
import { readSetting, writeSetting } from './settings.ts';

/** How many failures within a window lock a key, and for how long. */
export interface ThrottleRule {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

/** The numbers of authentication. One object, so a test or a deployment can change any of them in one place. */
export interface AuthPolicy {
  /** a session ends this long after sign-in, whatever happens */
  sessionTtlMs: number;
  /** and earlier when unused this long (every request through it counts as use) */
  idleTimeoutMs: number;
  /** the time between password and second factor */
  challengeTtlMs: number;
  /** wrong codes one challenge takes before the password must be entered again */
  challengeAttempts: number;
  /** failed sign-ins per login name */
  perLogin: ThrottleRule;
  /** failed sign-ins per client address, whatever the login: slows down guessing across many accounts */
  perIp: ThrottleRule;
  now(): number;
}

const MINUTE = 60_000;

export const DEFAULT_AUTH_POLICY: AuthPolicy = {
  sessionTtlMs: 12 * 60 * MINUTE,
  idleTimeoutMs: 30 * MINUTE,
  challengeTtlMs: 5 * MINUTE,
  challengeAttempts: 5,
  perLogin: { maxFailures: 5, windowMs: 15 * MINUTE, lockMs: 15 * MINUTE },
  // an office behind one NAT address shares this, so it is looser than the per-login rule
  perIp: { maxFailures: 30, windowMs: 15 * MINUTE, lockMs: 15 * MINUTE },
  now: () => Date.now(),
};

export function authPolicy(overrides: Partial<AuthPolicy> = {}): AuthPolicy {
  return { ...DEFAULT_AUTH_POLICY, ...overrides };
}

/** Roles that need a second factor whatever the setting says: they see everything, or decide who may. */
export const ALWAYS_TWO_FACTOR: readonly Role[] = ['auditor', 'admin'];

const TWO_FACTOR_ROLES_KEY = 'twoFactorRequiredRoles';

/** The roles that must sign in with a second factor (ALWAYS_TWO_FACTOR plus what the admin added). */
export async function twoFactorRequiredRoles(db: Kysely<Database>): Promise<Role[]> {
  const stored = (await readSetting<string[]>(db, TWO_FACTOR_ROLES_KEY)) ?? [];
  return ROLES.filter((r) => ALWAYS_TWO_FACTOR.includes(r) || stored.includes(r));
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/** Sets the roles that need a second factor; returns the previous and the new list, in role order. */
export async function setTwoFactorRequiredRoles(db: Kysely<Database>, roles: readonly string[]): Promise<{ from: Role[]; to: Role[] }> {
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw new PolicyError(`unknown role ${unknown.join(', ')}: roles are ${ROLES.join(', ')}`);
  const missing = ALWAYS_TWO_FACTOR.filter((r) => !roles.includes(r));
  if (missing.length > 0) throw new PolicyError(`${ALWAYS_TWO_FACTOR.join(' and ')} always need two-factor authentication; the list must include ${missing.join(', ')}`);
  const from = await twoFactorRequiredRoles(db);
  const to = ROLES.filter((r) => roles.includes(r));
  await writeSetting(db, TWO_FACTOR_ROLES_KEY, to);
  return { from, to };
}
