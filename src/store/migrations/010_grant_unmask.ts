import type { Kysely } from 'kysely';

// An access grant may also allow unmasking: the holder can explicitly ask for the original text (phone, ID card and
// bank card numbers, emails) of the conversations it covers. 0 or 1 in both dialects; grants made before stay masked.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('access_grant').addColumn('unmask', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}
