import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import type { AuditActor, AuditLog } from './audit.ts';
import { UserError, findUserByLogin, setUserStatus, type User } from './users.ts';
import { revokeUserSessions } from './sessions.ts';
import { removeTwoFactor } from './two-factor.ts';
import { clearFailures, loginKey } from './login-throttle.ts';

/** What an operator or admin does to someone else's account; each one is audited. */

async function userOrThrow(db: Kysely<Database>, login: string): Promise<User> {
  const user = await findUserByLogin(db, login);
  if (!user) throw new UserError('not_found', `no staff login "${login}"`);
  return user;
}

/** For a lost phone: the second factor and recovery codes go, every session ends; the user enrols again at sign-in. */
export async function resetTwoFactorOf(db: Kysely<Database>, audit: AuditLog, actor: AuditActor, login: string) {
  const user = await userOrThrow(db, login);
  const hadTwoFactor = await removeTwoFactor(db, user.id);
  const revokedSessions = await revokeUserSessions(db, user.id);
  await audit.record({ actor, action: 'auth.2fa_reset', target: { type: 'user', id: user.id }, detail: { login, hadTwoFactor, revokedSessions } });
  return { user, hadTwoFactor, revokedSessions };
}

export async function revokeSessionsOf(db: Kysely<Database>, audit: AuditLog, actor: AuditActor, login: string) {
  const user = await userOrThrow(db, login);
  const revokedSessions = await revokeUserSessions(db, user.id);
  await audit.record({ actor, action: 'auth.session_revoke', target: { type: 'user', id: user.id }, detail: { login, revokedSessions } });
  return { user, revokedSessions };
}

/** A disabled account cannot sign in and its sessions end at once; enabling it also lifts a sign-in lock-out. */
export async function setAccountEnabled(db: Kysely<Database>, audit: AuditLog, actor: AuditActor, login: string, enabled: boolean) {
  const user = await userOrThrow(db, login);
  await setUserStatus(db, user.id, enabled ? 'active' : 'disabled');
  const revokedSessions = enabled ? 0 : await revokeUserSessions(db, user.id);
  if (enabled) await clearFailures(db, loginKey(login));
  await audit.record({ actor, action: enabled ? 'user.enable' : 'user.disable', target: { type: 'user', id: user.id }, detail: { login, revokedSessions } });
  return { user, revokedSessions };
}

/** Lifts a lock-out of a login before it runs out (the address lock, if any, stays). */
export async function unlockLogin(db: Kysely<Database>, audit: AuditLog, actor: AuditActor, login: string) {
  await clearFailures(db, loginKey(login));
  await audit.record({ actor, action: 'user.unlock', target: { type: 'login', id: login }, detail: { login } });
}
