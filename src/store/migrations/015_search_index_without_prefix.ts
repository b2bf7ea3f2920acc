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
// writer thread then stands at the newest message. 1M messages took 77 s on a quiet 2-core machine (187 s beside a
// running test suite); a line on stderr every 5% shows how far it is.
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) !== 'sqlite') return;
  // one transaction: Kysely runs SQLite migrations without one, and a statement each would be a commit (and an fsync)
  // each; a failure or a crash leaves the old index as it was, and the next start tries again
  await db.transaction().execute(async (trx) => {
    const progress = reindexProgress(Number((await sql<{ n: number }>`select count(*) as n from message where type <> 'event' and purged_at is null`.execute(trx)).rows[0]!.n));
    await sql`drop table message_fts`.execute(trx);
    await sql`create virtual table message_fts using fts5(tokens, content='', contentless_delete=1)`.execute(trx);
    for (let after = -1; ; ) {
      const { rows } = await sql<{ search_key: number; body: string }>`
        select search_key, body from message
        where search_key > ${after} and type <> 'event' and purged_at is null
        order by search_key limit ${CHUNK}`.execute(trx);
      if (rows.length === 0) break;
      for (let i = 0; i < rows.length; i += 200) {
        const part = rows.slice(i, i + 200);
        await sql`insert into message_fts (rowid, tokens) values ${sql.join(part.map((r) => sql`(${r.search_key}, ${indexText(r.body)})`))}`.execute(trx);
      }
      after = Number(rows[rows.length - 1]!.search_key);
      progress(rows.length);
    }
    await sql`update search_index_state set value = (select coalesce(max(search_key), 0) from message) where name = 'indexed_through'`.execute(trx);
  });
}

/** below this many messages the migration takes seconds and says nothing */
const QUIET_BELOW = 100_000;

/** A line on stderr every 5% for a large archive: the server's first start after the upgrade waits for this. */
function reindexProgress(total: number): (done: number) => void {
  if (total < QUIET_BELOW) return () => {};
  const started = Date.now();
  process.stderr.write(`kefu: migration 015 indexes ${total.toLocaleString('en-US')} messages again for search (about 80 s per million on 2 cores)\n`);
  let done = 0;
  let shown = 0;
  return (n) => {
    done += n;
    const pct = Math.floor((done / total) * 100);
    if (pct < shown + 5) return;
    shown = pct - (pct % 5);
    process.stderr.write(`kefu: search index ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} (${shown}%), ${Math.round((Date.now() - started) / 1000)} s\n`);
  };
}
