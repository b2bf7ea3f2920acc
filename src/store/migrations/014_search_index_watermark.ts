import { type Kysely, sql } from 'kysely';

// The embedded message writer indexes live messages shortly after their commit, in larger batches (archive/
// search-backlog.ts). `indexed_through` is the newest search key of a live message known to be in the index; after a
// crash, the messages above it that the index lacks are indexed again. Everything stored before this migration was
// indexed with its commit.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`insert into search_index_state (name, value) select 'indexed_through', coalesce(max(search_key), 0) from message`.execute(db);
}

