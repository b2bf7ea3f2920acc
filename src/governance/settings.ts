import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';

/**
 * Settings an admin changes at run time (not deployment configuration, which comes from the environment). Stored in
 * the database, so every node of a cluster reads the same value on its next request.
 */
export async function readSetting<T>(db: Kysely<Database>, key: string): Promise<T | undefined> {
  const r = await db.selectFrom('setting').select('value').where('key', '=', key).executeTakeFirst();
  return r ? (JSON.parse(r.value) as T) : undefined;
}

export async function writeSetting(db: Kysely<Database>, key: string, value: unknown, now = Date.now()): Promise<void> {
  const json = JSON.stringify(value);
  await db
    .insertInto('setting')
    .values({ key, value: json, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_at: now }))
    .execute();
}
