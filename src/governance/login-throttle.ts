import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import type { ThrottleRule } from './auth-policy.ts';

/**
 * Failed sign-ins counted per key in the database, so every node of a cluster counts the same failures and a lock-out
 * holds whichever node the next attempt reaches. Keys: `login:NAME` (known or not: an unknown name is locked like a
 * real one, so a lock-out tells nothing about which logins exist) and `ip:ADDRESS`.
 */
export const loginKey = (login: string) => `login:${login}`;
export const ipKey = (ip: string) => `ip:${ip}`;

/** The latest time until which any of the keys is locked, or null when none is locked at `now`. */
export async function lockedUntil(db: Kysely<Database>, keys: string[], now: number): Promise<number | null> {
  const rows = await db.selectFrom('login_throttle').select('locked_until').where('key', 'in', keys).where('locked_until', '>', now).execute();
  return rows.length === 0 ? null : Math.max(...rows.map((r) => Number(r.locked_until)));
}

/**
 * Counts one failure against the key. Returns the lock when this failure reached the rule's maximum within its window
 * (the count then starts again), otherwise null. Each step is a single statement, so concurrent failures on several
 * nodes are all counted and exactly one of them starts the lock.
 */
export async function recordFailure(db: Kysely<Database>, key: string, rule: ThrottleRule, now: number): Promise<{ lockedUntil: number; failures: number } | null> {
  await db
    .insertInto('login_throttle')
    .values({ key, failures: 0, window_start: now, locked_until: null })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const windowOver = now - rule.windowMs;
  const counted = await db
    .updateTable('login_throttle')
    .set((eb) => ({
      failures: eb.case().when('window_start', '<=', windowOver).then(1).else(eb('failures', '+', 1)).end(),
      window_start: eb.case().when('window_start', '<=', windowOver).then(now).else(eb.ref('window_start')).end(),
    }))
    .where('key', '=', key)
    .returning('failures')
    .executeTakeFirstOrThrow();
  const failures = Number(counted.failures);
  if (failures < rule.maxFailures) return null;
  const until = now + rule.lockMs;
  const locked = await db
    .updateTable('login_throttle')
    .set({ locked_until: until, failures: 0, window_start: now })
    .where('key', '=', key)
    .where('failures', '>=', rule.maxFailures)
    .executeTakeFirst();
  return Number(locked.numUpdatedRows) > 0 ? { lockedUntil: until, failures } : null;
}

/** A successful sign-in forgets the login's earlier failures (an address's failures stay counted). */
export async function clearFailures(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('login_throttle').where('key', '=', key).execute();
}
