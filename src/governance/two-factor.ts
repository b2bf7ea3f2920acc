import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { SecretBox, hashRecoveryCode, matchTotp, newRecoveryCodes, newTotpSecret, otpauthUri } from './totp.ts';

export class TwoFactorError extends Error {
  constructor(
    public readonly code: 'two_factor_already_enabled' | 'two_factor_not_enabled' | 'no_pending_setup' | 'bad_code',
    message: string,
  ) {
    super(message);
  }
}

export interface TwoFactorStatus {
  enabled: boolean;
  enabledAt: number | null;
  recoveryCodesLeft: number;
}

export async function twoFactorStatus(db: Kysely<Database>, userId: string): Promise<TwoFactorStatus> {
  const row = await db.selectFrom('user_totp').select('enabled_at').where('user_id', '=', userId).executeTakeFirst();
  const enabledAt = row?.enabled_at == null ? null : Number(row.enabled_at);
  if (enabledAt === null) return { enabled: false, enabledAt: null, recoveryCodesLeft: 0 };
  const left = await db
    .selectFrom('recovery_code')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { enabled: true, enabledAt, recoveryCodesLeft: Number(left.n) };
}

/** Starts (or restarts) enrolment: a new secret waits for a code from the user's app before it counts. */
export async function beginEnrolment(db: Kysely<Database>, box: SecretBox, user: { id: string; login: string }): Promise<{ secret: string; otpauthUri: string }> {
  if ((await twoFactorStatus(db, user.id)).enabled) throw new TwoFactorError('two_factor_already_enabled', 'two-factor authentication is already on; turn it off first to set up another device');
  const secret = newTotpSecret();
  const pending = box.seal(secret);
  await db
    .insertInto('user_totp')
    .values({ user_id: user.id, secret: null, pending_secret: pending, enabled_at: null, last_step: null })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ pending_secret: pending }))
    .execute();
  return { secret, otpauthUri: otpauthUri(user.login, secret) };
}

async function storeRecoveryCodes(db: Kysely<Database>, userId: string, now: number): Promise<string[]> {
  const codes = newRecoveryCodes();
  await db.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
  await db
    .insertInto('recovery_code')
    .values(codes.map((c) => ({ user_id: userId, code_hash: hashRecoveryCode(c), created_at: now, used_at: null })))
    .execute();
  return codes;
}

/** A code from the app confirms the pending secret: two-factor is on. Returns the recovery codes, shown this once. */
export async function confirmEnrolment(db: Kysely<Database>, box: SecretBox, userId: string, code: string, now = Date.now()): Promise<string[]> {
  const row = await db.selectFrom('user_totp').selectAll().where('user_id', '=', userId).executeTakeFirst();
  if (row?.enabled_at != null) throw new TwoFactorError('two_factor_already_enabled', 'two-factor authentication is already on');
  if (!row?.pending_secret) throw new TwoFactorError('no_pending_setup', 'start the setup first (POST /api/v1/auth/2fa/setup)');
  const step = matchTotp(box.open(row.pending_secret), code, now);
  if (step === null) throw new TwoFactorError('bad_code', 'the code does not match: check the time on the phone and enter the current code');
  return db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('user_totp')
      .set({ secret: row.pending_secret, pending_secret: null, enabled_at: now, last_step: step })
      .where('user_id', '=', userId)
      .where('pending_secret', '=', row.pending_secret)
      .where('enabled_at', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new TwoFactorError('no_pending_setup', 'the setup changed meanwhile; start it again');
    return storeRecoveryCodes(trx, userId, now);
  });
}

/**
 * Checks a code from the user's app. A code is accepted once: its time step must be newer than the last accepted one,
 * so a code seen over someone's shoulder cannot be used again.
 */
export async function checkTotpCode(db: Kysely<Database>, box: SecretBox, userId: string, code: string, now = Date.now()): Promise<boolean> {
  const row = await db.selectFrom('user_totp').select(['secret', 'enabled_at', 'last_step']).where('user_id', '=', userId).executeTakeFirst();
  if (!row?.secret || row.enabled_at == null) return false;
  const step = matchTotp(box.open(row.secret), code, now);
  if (step === null) return false;
  const r = await db
    .updateTable('user_totp')
    .set({ last_step: step })
    .where('user_id', '=', userId)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Uses up one recovery code; false when it is unknown or already used. */
export async function useRecoveryCode(db: Kysely<Database>, userId: string, code: string, now = Date.now()): Promise<boolean> {
  if (code.length > 64) return false;
  const r = await db
    .updateTable('recovery_code')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', hashRecoveryCode(code))
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The second step of a login: a current code from the app, or one of the recovery codes. */
export async function checkSecondFactor(
  db: Kysely<Database>,
  box: SecretBox,
  userId: string,
  answer: { code?: string; recoveryCode?: string },
  now = Date.now(),
): Promise<'totp' | 'recovery_code' | null> {
  if (answer.code !== undefined) return (await checkTotpCode(db, box, userId, answer.code, now)) ? 'totp' : null;
  if (answer.recoveryCode !== undefined) return (await useRecoveryCode(db, userId, answer.recoveryCode, now)) ? 'recovery_code' : null;
  return null;
}

/** New recovery codes replace the old ones (all of them, used or not); needs a current code. */
export async function regenerateRecoveryCodes(db: Kysely<Database>, box: SecretBox, userId: string, code: string, now = Date.now()): Promise<string[]> {
  if (!(await twoFactorStatus(db, userId)).enabled) throw new TwoFactorError('two_factor_not_enabled', 'two-factor authentication is off');
  if (!(await checkTotpCode(db, box, userId, code, now))) throw new TwoFactorError('bad_code', 'the code does not match: enter the current code from the app');
  return db.transaction().execute((trx) => storeRecoveryCodes(trx, userId, now));
}

/** Turns two-factor off after checking a current code. */
export async function disableTwoFactor(db: Kysely<Database>, box: SecretBox, userId: string, code: string, now = Date.now()): Promise<void> {
  if (!(await twoFactorStatus(db, userId)).enabled) throw new TwoFactorError('two_factor_not_enabled', 'two-factor authentication is off');
  if (!(await checkTotpCode(db, box, userId, code, now))) throw new TwoFactorError('bad_code', 'the code does not match: enter the current code from the app');
  await removeTwoFactor(db, userId);
}

/** Removes the second factor and recovery codes without a code (an operator's reset for a lost phone). */
export async function removeTwoFactor(db: Kysely<Database>, userId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('recovery_code').where('user_id', '=', userId).execute();
    const r = await trx.deleteFrom('user_totp').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  });
}

/**
 * At start with KEFU_SECRET_KEY: encrypts secrets stored before the key was set, and counts the secrets this key
 * cannot open (stored under another key), so the server can say so at once instead of at the next sign-in.
 */
export async function sealStoredSecrets(db: Kysely<Database>, box: SecretBox): Promise<{ sealed: number; unreadable: number; plain: number }> {
  const rows = await db.selectFrom('user_totp').select(['user_id', 'secret', 'pending_secret']).execute();
  let sealed = 0;
  let unreadable = 0;
  let plain = 0;
  for (const r of rows) {
    const update: { secret?: string; pending_secret?: string } = {};
    for (const field of ['secret', 'pending_secret'] as const) {
      const stored = r[field];
      if (!stored) continue;
      if (box.isPlain(stored)) {
        plain++;
        if (box.encrypts) update[field] = box.seal(box.open(stored));
      } else {
        try {
          box.open(stored);
        } catch {
          unreadable++;
        }
      }
    }
    if (Object.keys(update).length > 0) {
      await db.updateTable('user_totp').set(update).where('user_id', '=', r.user_id).execute();
      sealed++;
    }
  }
  return { sealed, unreadable, plain };
}
