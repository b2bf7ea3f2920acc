import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';

// PostgreSQL: the index table carries the search key too, so a search is driven by message_search alone, like FTS5 in
// SQLite: the GIN index and the key's btree combine for a time filter (bitmap AND), and newest first walks the key
// instead of the message table. SQLite needs nothing: there the key is the FTS rowid.
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`alter table message_search add column search_key bigint`.execute(db);
  await sql`update message_search s set search_key = m.search_key from message m where m.id = s.message_id`.execute(db);
  await sql`create index message_search_search_key_idx on message_search (search_key)`.execute(db);
}
