import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { hashToken } from '../customers/index.ts';
import { getUser, type User } from './users.ts';

export const SESSION_COOKIE = 'kefu_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export async function createSession(db: Kysely<Database>, userId: string): Promise<{ token: string; expiresAt: number }> {
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const expiresAt = now + SESSION_TTL_MS;
  await db.insertInto('session').values({ id_hash: hashToken(token), user_id: userId, created_at: now, expires_at: expiresAt, revoked_at: null }).execute();
  return { token, expiresAt };
}

/** The user of a live session token, or undefined when it is unknown, expired, revoked or the user is disabled. */
export async function userForSession(db: Kysely<Database>, token: string | undefined): Promise<User | undefined> {
  if (!token || token.length > 100) return undefined;
  const s = await db.selectFrom('session').selectAll().where('id_hash', '=', hashToken(token)).executeTakeFirst();
  if (!s || s.revoked_at !== null || Number(s.expires_at) <= Date.now()) return undefined;
  const user = await getUser(db, s.user_id);
  return user && user.status === 'active' ? user : undefined;
}

export async function revokeSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.updateTable('session').set({ revoked_at: Date.now() }).where('id_hash', '=', hashToken(token)).execute();
}
