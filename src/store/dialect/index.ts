import { type Kysely, PostgresAdapter, sql } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

export function dialectOf(db: Kysely<any>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Column type of an auto-incrementing integer key: SQLite's rowid alias, PostgreSQL's bigserial. */
export function autoIncrementId(db: Kysely<any>) {
  return dialectOf(db) === 'postgres' ? sql`bigserial` : sql`integer`;
}
