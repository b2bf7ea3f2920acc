import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { newId, type Database } from '../store/index.ts';
import { hashToken } from '../customers/index.ts';
import { userFromRow, type Role, type User } from './users.ts';
import { ALWAYS_TWO_FACTOR, DEFAULT_AUTH_POLICY, twoFactorRequiredRoles } from './auth-policy.ts';

export const SESSION_COOKIE = 'kefu_session';

/** What a session may do: everything its user's role allows, or (second factor required but not set up) only enrol. */
export type SessionScope = 'full' | 'enrolment';

export interface SessionInfo {
  id: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  ip: string | null;
  userAgent: string | null;
}

export interface LiveSession {
  session: SessionInfo;
  user: User;
  twoFactorEnabled: boolean;
  scope: SessionScope;
}

/** A session is written back as used at most this often (and at least ten times per idle period). */
const TOUCH_EVERY_MS = 60_000;

/** Not revoked, within its lifetime and its idle timeout, of an active user: the one rule, for requests and open sockets alike. */
function isLive(r: { revoked_at: number | null; status: string; expires_at: number; last_seen_at: number; idle_ms: number }, now: number): boolean {
  if (r.revoked_at !== null || r.status !== 'active') return false;
  return Number(r.expires_at) > now && Number(r.last_seen_at) + Number(r.idle_ms) > now;
}

const needsTwoFactor = (role: Role, requiredRoles: readonly Role[]) => ALWAYS_TWO_FACTOR.includes(role) || requiredRoles.includes(role);

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function createSession(
  db: Kysely<Database>,
  userId: string,
  opts: { ttlMs?: number; idleMs?: number; ip?: string | null; userAgent?: string | null; now?: number } = {},
): Promise<{ id: string; token: string; expiresAt: number }> {
  const token = newToken();
  const now = opts.now ?? Date.now();
  const expiresAt = now + (opts.ttlMs ?? DEFAULT_AUTH_POLICY.sessionTtlMs);
  const id = newId('ses');
  await db
    .insertInto('session')
    .values({
      id_hash: hashToken(token),
      id,
      user_id: userId,
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
      idle_ms: opts.idleMs ?? DEFAULT_AUTH_POLICY.idleTimeoutMs,
      revoked_at: null,
      ip: opts.ip ?? null,
      user_agent: opts.userAgent?.slice(0, 300) ?? null,
    })
    .execute();
  return { id, token, expiresAt };
}

/**
 * The live session of a token with its user, or undefined when it is unknown, revoked, past its lifetime, idle for
 * longer than its idle timeout, or its user is disabled. Counts as use: moves the idle deadline on.
 */
export async function lookupSession(db: Kysely<Database>, token: string | undefined, now = Date.now()): Promise<LiveSession | undefined> {
  if (!token || token.length > 100) return undefined;
  const r = await db
    .selectFrom('session as s')
    .innerJoin('app_user as u', 'u.id', 's.user_id')
    .leftJoin('user_totp as t', 't.user_id', 's.user_id')
    .select(['s.id as session_id', 's.created_at', 's.last_seen_at', 's.expires_at', 's.idle_ms', 's.revoked_at', 's.ip', 's.user_agent', 't.enabled_at'])
    .select(['u.id', 'u.login', 'u.display_name', 'u.role', 'u.status', 'u.department_id'])
    .where('s.id_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!r || !isLive(r, now)) return undefined;
  const lastSeen = Number(r.last_seen_at);
  if (now - lastSeen >= Math.min(TOUCH_EVERY_MS, Number(r.idle_ms) / 10)) {
    await db.updateTable('session').set({ last_seen_at: now }).where('id', '=', r.session_id).execute();
  }
  const user = userFromRow(r);
  const twoFactorEnabled = r.enabled_at !== null && r.enabled_at !== undefined;
  const needsSecondFactor = !twoFactorEnabled && needsTwoFactor(user.role, await twoFactorRequiredRoles(db));
  return {
    session: { id: r.session_id, userId: user.id, createdAt: Number(r.created_at), lastSeenAt: now, expiresAt: Number(r.expires_at), ip: r.ip, userAgent: r.user_agent },
    user,
    twoFactorEnabled,
    scope: needsSecondFactor ? 'enrolment' : 'full',
  };
}

/**
 * Of these session ids, the ones that are still live with full scope: what an open socket needs to stay open. Does not
 * count as use (an open socket is not activity; the console reports real use over HTTP). Revocations made by another
 * process (the CLI, another node) are seen here, as they are only in the database.
 */
export async function fullSessionIds(db: Kysely<Database>, ids: readonly string[], now = Date.now()): Promise<Set<string>> {
  const live = new Set<string>();
  const unique = [...new Set(ids)];
  if (unique.length === 0) return live;
  const requiredRoles = await twoFactorRequiredRoles(db);
  for (let i = 0; i < unique.length; i += 500) {
    const rows = await db
      .selectFrom('session as s')
      .innerJoin('app_user as u', 'u.id', 's.user_id')
      .leftJoin('user_totp as t', 't.user_id', 's.user_id')
      .select(['s.id', 's.last_seen_at', 's.expires_at', 's.idle_ms', 's.revoked_at', 'u.status', 'u.role', 't.enabled_at'])
      .where('s.id', 'in', unique.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      const twoFactorEnabled = r.enabled_at !== null && r.enabled_at !== undefined;
      if (isLive(r, now) && (twoFactorEnabled || !needsTwoFactor(r.role, requiredRoles))) live.add(r.id);
    }
  }
  return live;
}

/**
 * News inside one process that sessions may have ended (sign-out, revocation, password change, a role now needing a
 * second factor), so that open sockets are checked at once rather than at the next periodic check.
 */
export class SessionEndings {
  private readonly listeners = new Set<() => void>();
  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  notify(): void {
    for (const l of this.listeners) l();
  }
}

export async function revokeSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.updateTable('session').set({ revoked_at: Date.now() }).where('id_hash', '=', hashToken(token)).execute();
}

/** Revokes one of the user's own sessions; false when there is no such live session of theirs. */
export async function revokeSessionById(db: Kysely<Database>, userId: string, sessionId: string, now = Date.now()): Promise<boolean> {
  const r = await db.updateTable('session').set({ revoked_at: now }).where('id', '=', sessionId).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Revokes every session of a user (but the one given in `except`); returns how many were live. */
export async function revokeUserSessions(db: Kysely<Database>, userId: string, opts: { except?: string; now?: number } = {}): Promise<number> {
  const now = opts.now ?? Date.now();
  let q = db.updateTable('session').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).where('expires_at', '>', now);
  if (opts.except) q = q.where('id', '!=', opts.except);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** The user's sessions that are still live, newest first. */
export async function listSessions(db: Kysely<Database>, userId: string, now = Date.now()): Promise<SessionInfo[]> {
  const rows = await db
    .selectFrom('session')
    .select(['id', 'user_id', 'created_at', 'last_seen_at', 'expires_at', 'idle_ms', 'ip', 'user_agent'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .execute();
  return rows
    .filter((r) => Number(r.last_seen_at) + Number(r.idle_ms) > now)
    .map((r) => ({ id: r.id, userId: r.user_id, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at), expiresAt: Number(r.expires_at), ip: r.ip, userAgent: r.user_agent }));
}

// ---- the second step of a login: the password was right, the second factor is outstanding ----

export async function createLoginChallenge(db: Kysely<Database>, userId: string, ttlMs: number, now = Date.now()): Promise<{ challenge: string; expiresAt: number }> {
  const challenge = newToken();
  await db.insertInto('login_challenge').values({ id_hash: hashToken(challenge), user_id: userId, created_at: now, expires_at: now + ttlMs, attempts: 0 }).execute();
  // challenges nobody finished are of no use to anyone
  await db.deleteFrom('login_challenge').where('expires_at', '<', now).execute();
  return { challenge, expiresAt: now + ttlMs };
}

/** The user id of a challenge that is still open, or undefined. */
export async function openLoginChallenge(db: Kysely<Database>, challenge: string, now = Date.now()): Promise<{ userId: string; attempts: number } | undefined> {
  if (challenge.length > 100) return undefined;
  const r = await db.selectFrom('login_challenge').select(['user_id', 'expires_at', 'attempts']).where('id_hash', '=', hashToken(challenge)).executeTakeFirst();
  if (!r || Number(r.expires_at) <= now) return undefined;
  return { userId: r.user_id, attempts: Number(r.attempts) };
}

/** Counts a wrong code; the challenge is dropped when it has taken `max` of them. Returns the attempts left. */
export async function failLoginChallenge(db: Kysely<Database>, challenge: string, max: number): Promise<number> {
  const idHash = hashToken(challenge);
  const r = await db
    .updateTable('login_challenge')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id_hash', '=', idHash)
    .returning('attempts')
    .executeTakeFirst();
  const attempts = Number(r?.attempts ?? max);
  if (attempts >= max) await db.deleteFrom('login_challenge').where('id_hash', '=', idHash).execute();
  return Math.max(0, max - attempts);
}

/** Ends a challenge; true for the one caller that ended it, so a challenge completes a login at most once. */
export async function closeLoginChallenge(db: Kysely<Database>, challenge: string): Promise<boolean> {
  const r = await db.deleteFrom('login_challenge').where('id_hash', '=', hashToken(challenge)).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
