import { sql, type Kysely } from 'kysely';
import type { Database, DialectName } from '../store/index.ts';
import { writeSearchDocs } from '../store/dialect/search.ts';
import { indexText } from './tokenizer.ts';

/** A committed message whose index entry is still to be written. */
export interface UnindexedMessage {
  messageId: string;
  searchKey: number;
  body: string;
}

const WATERMARK = 'indexed_through';

/**
 * Live messages of the embedded writer thread whose index entries are written after their commit, many at a time:
 * FTS5 writes a segment per transaction, so indexing each group commit of a few messages on its own cost more than
 * the messages themselves (docs/BENCHMARKS.md, "Message path"). Searches on the server first ask the writer to index
 * what is waiting (archive/search.ts → store/dialect/search.ts catchUpSearchIndex), so a search still finds every
 * acknowledged message. After a crash, the messages the index lacks are found by the watermark (indexMissed).
 *
 * Messages are added in commit order; their keys rise (live keys are allocated after every key in use).
 */
export class SearchBacklog {
  private waiting: UnindexedMessage[] = [];
  private since = 0;

  add(messages: UnindexedMessage[]): void {
    if (messages.length === 0) return;
    if (this.waiting.length === 0) this.since = Date.now();
    for (const m of messages) this.waiting.push(m);
  }

  get size(): number {
    return this.waiting.length;
  }

  /** ms since the oldest waiting message was added (0 when none waits) */
  age(now = Date.now()): number {
    return this.waiting.length === 0 ? 0 : now - this.since;
  }

  /**
   * Writes the oldest `limit` waiting entries (all by default) in one transaction of `db` and moves the watermark;
   * returns how many were written. A limit keeps one flush from holding up the commits behind it for long.
   */
  async flush(db: Kysely<Database>, dialect: DialectName, limit = Infinity): Promise<number> {
    if (this.waiting.length === 0) return 0;
    const batch = this.waiting.length <= limit ? this.waiting : this.waiting.slice(0, limit);
    this.waiting = this.waiting.length <= limit ? [] : this.waiting.slice(limit);
    try {
      return await db.transaction().execute((trx) => indexMessages(trx, dialect, batch));
    } catch (err) {
      // kept for the next flush; the watermark did not move, so a crash before then loses nothing either
      this.waiting = batch.concat(this.waiting);
      throw err;
    }
  }
}

async function indexMessages(trx: Kysely<Database>, dialect: DialectName, messages: UnindexedMessage[]): Promise<number> {
  // a retention purge in between (another process) emptied these: their words must not enter the index
  const purged = new Set<number>();
  for (let i = 0; i < messages.length; i += 500) {
    const keys = messages.slice(i, i + 500).map((m) => m.searchKey);
    const rows = await trx.selectFrom('message').select('search_key').where('search_key', 'in', keys).where('purged_at', 'is not', null).execute();
    for (const r of rows) purged.add(Number(r.search_key));
  }
  const docs = messages.filter((m) => !purged.has(m.searchKey)).map((m) => ({ messageId: m.messageId, searchKey: m.searchKey, tokens: indexText(m.body) }));
  await writeSearchDocs(trx, dialect, docs);
  const top = messages.reduce((k, m) => Math.max(k, m.searchKey), 0);
  await raiseWatermark(trx, top);
  return docs.length;
}

async function raiseWatermark(trx: Kysely<Database>, key: number): Promise<void> {
  await sql`update search_index_state set value = ${key} where name = ${WATERMARK} and value < ${key}`.execute(trx);
}

/**
 * After a crash of the writer (or of the process): indexes the messages above the watermark that the index lacks, in
 * key order and in transactions of `chunk`, then moves the watermark to the newest message. Messages above the
 * watermark that are indexed already (an import's, indexed with their commit) are left alone. Returns how many were
 * indexed. SQLite only: PostgreSQL indexes every message with its commit.
 */
export async function indexMissed(db: Kysely<Database>, chunk = 2000): Promise<number> {
  const mark = await db.selectFrom('search_index_state').select('value').where('name', '=', WATERMARK).executeTakeFirst();
  let after = Number(mark?.value ?? 0);
  let indexed = 0;
  for (;;) {
    const rows = await sql<{ id: string; search_key: number; body: string }>`
      select m.id, m.search_key, m.body from message m
      where m.search_key > ${after} and m.type <> 'event' and m.purged_at is null
        and not exists (select 1 from message_fts f where f.rowid = m.search_key)
      order by m.search_key limit ${chunk}`.execute(db);
    if (rows.rows.length === 0) break;
    const batch = rows.rows.map((r) => ({ messageId: r.id, searchKey: Number(r.search_key), body: r.body }));
    indexed += await db.transaction().execute((trx) => indexMessages(trx, 'sqlite', batch));
    after = batch[batch.length - 1]!.searchKey;
  }
  const top = await db.selectFrom('message').select((eb) => eb.fn.max('search_key').as('k')).executeTakeFirst();
  if (top?.k != null) await raiseWatermark(db, Number(top.k));
  return indexed;
}
