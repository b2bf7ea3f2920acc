import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';
import { indexText } from '../../archive/tokenizer.ts';

/** messages read and indexed per step, so a large archive is not held in memory at once */
const CHUNK = 2000;

// SQLite: the search index without FTS5's prefix index (prefix='5'). That index served one-character queries, which are
// prefix queries of the bigrams a character starts (`c<x>*`); without it FTS5 walks those terms in its main index
// instead. On a 1M-message archive a one-character query went from 1.6 to 7.7 ms, nothing else moved, the index shrank
// from 484 to 284 MB, and writing it cost 43 instead of 66 µs a message: the index is the message writer's largest
// cost (docs/BENCHMARKS.md). The option is fixed when an FTS5 table is created, so the table is made again and filled
// from the bodies (it is contentless; purged and event messages have no entry), in key order; the watermark of the
// writer thread then stands at the newest message. About 80 s per million messages.
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'sqlite') return;
  await sql`drop table message_fts`.execute(db);
  await sql`create virtual table message_fts using fts5(tokens, content='', contentless_delete=1)`.execute(db);
  for (let after = -1; ; ) {
    const { rows } = await sql<{ search_key: number; body: string }>`
      select search_key, body from message
      where search_key > ${after} and type <> 'event' and purged_at is null
      order by search_key limit ${CHUNK}`.execute(db);
    if (rows.length === 0) break;
    for (let i = 0; i < rows.length; i += 200) {
      const part = rows.slice(i, i + 200);
      await sql`insert into message_fts (rowid, tokens) values ${sql.join(part.map((r) => sql`(${r.search_key}, ${indexText(r.body)})`))}`.execute(db);
    }
    after = Number(rows[rows.length - 1]!.search_key);
  }
  await sql`update search_index_state set value = (select coalesce(max(search_key), 0) from message) where name = 'indexed_through'`.execute(db);
}
