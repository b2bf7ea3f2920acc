import { sql, type Kysely, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { DialectName } from './index.ts';
import { powerOfTwoChunks } from '../chunks.ts';
import { executeShaped, rowValues } from '../shaped-statements.ts';
import type { Database, MessageTable } from '../schema.ts';

/** A message's index entry: the token string made by the archive tokenizer, under the message's search key. */
export interface SearchDoc {
  messageId: string;
  searchKey: number;
  tokens: string;
}

/** Writes index entries in the caller's transaction, so a message and its index entry commit together. */
export async function writeSearchDocs(trx: Kysely<any>, dialect: DialectName, docs: SearchDoc[]): Promise<void> {
  // FTS5 writes out its pending terms whenever a rowid is not larger than the one before (the doclists are sorted):
  // an import of interleaved conversations would make a tiny segment per conversation, so the keys go in ascending
  if (dialect === 'sqlite') docs = [...docs].sort((a, b) => a.searchKey - b.searchKey);
  for (const chunk of powerOfTwoChunks(docs)) {
    const shape = `search-docs:${dialect}:${chunk.length}`;
    if (dialect === 'sqlite') {
      // the FTS rowid is the search key: newest first is the index's own order (store/search-keys.ts)
      await executeShaped(trx, shape, rowValues(chunk, ['searchKey', 'tokens']), () => sql`insert into message_fts (rowid, tokens) values ${sql.join(chunk.map((d) => sql`(${d.searchKey}, ${d.tokens})`))}`);
    } else {
      const ids = chunk.map((d) => d.messageId);
      const keys = chunk.map((d) => d.searchKey);
      const tokens = chunk.map((d) => d.tokens);
      await executeShaped(trx, shape, [ids, keys, tokens], () => sql`insert into message_search (message_id, search_key, tsv) select v.id, v.k, to_tsvector('simple', v.t) from unnest(${ids}::text[], ${keys}::bigint[], ${tokens}::text[]) as v(id, k, t)`);
    }
  }
}

const catchUps = new WeakMap<object, () => Promise<void>>();

/**
 * A writer that indexes its messages after their commit (the SQLite writer thread, archive/search-backlog.ts) tells
 * how to wait for it; searches on this database handle then call catchUpSearchIndex first.
 */
export function registerSearchCatchUp(db: Kysely<any>, catchUp: () => Promise<void>): void {
  catchUps.set(db, catchUp);
}

/** Before the index is read: once this resolves, every message acknowledged so far is in it. */
export async function catchUpSearchIndex(db: Kysely<any>): Promise<void> {
  await catchUps.get(db)?.();
}

/** A range of search keys, [lo, hi): a time filter (store/search-keys.ts keyRange). */
export interface KeyRange {
  lo?: number;
  hi?: number;
}

type MessagesFrom = SelectQueryBuilder<Database & { m: MessageTable }, 'm', {}>;

/**
 * Messages `m` that match the engine query (an FTS5 MATCH expression in SQLite, a tsquery text in PostgreSQL, both
 * from the archive tokenizer) within a key range.
 *
 * The index table drives the scan in both dialects (FTS5 `f`, `message_search s`), joined to `m` by key, so ordering by
 * searchKeyColumn() descending reads hits newest first and stops after a page, and the key range bounds the index
 * scan itself. PostgreSQL chooses per query between walking the key newest first (common words) and collecting the
 * few hits from the GIN index (rare words, numbers), which its statistics (migration 009) tell apart.
 */
export function matchingMessages(db: Kysely<Database>, dialect: DialectName, engineQuery: string, range: KeyRange): MessagesFrom {
  if (dialect === 'sqlite') {
    let q = db
      .selectFrom(sql<{ rowid: number }>`message_fts`.as('f'))
      .innerJoin('message as m', 'm.search_key', 'f.rowid')
      .where(sql<SqlBool>`message_fts match ${engineQuery}`);
    if (range.lo !== undefined) q = q.where(sql<SqlBool>`f.rowid >= ${range.lo}`);
    if (range.hi !== undefined) q = q.where(sql<SqlBool>`f.rowid < ${range.hi}`);
    // the query reads only m, c and what joins them; f stays reachable through searchKeyColumn()
    return q as unknown as MessagesFrom;
  }
  let q = db
    .selectFrom(sql<{ message_id: string; search_key: number }>`message_search`.as('s'))
    .innerJoin('message as m', 'm.id', 's.message_id')
    .where(sql<SqlBool>`s.tsv @@ ${engineQuery}::tsquery`);
  if (range.lo !== undefined) q = q.where(sql<SqlBool>`s.search_key >= ${range.lo}`);
  if (range.hi !== undefined) q = q.where(sql<SqlBool>`s.search_key < ${range.hi}`);
  return q as unknown as MessagesFrom;
}

/** The search key of `m` as the query should order and page by: with a match, the index table's own copy. */
export function searchKeyColumn(dialect: DialectName, matched: boolean): RawBuilder<number> {
  if (!matched) return sql<number>`m.search_key`;
  return dialect === 'sqlite' ? sql<number>`f.rowid` : sql<number>`s.search_key`;
}

/**
 * How many messages match, counted in the index alone (no message rows read), up to `cap`: exact only when nothing but
 * the query and the key range filters the messages.
 */
export async function countInIndex(db: Kysely<Database>, dialect: DialectName, engineQuery: string, range: KeyRange, cap: number): Promise<number> {
  if (dialect === 'sqlite') {
    const lo = range.lo === undefined ? sql`` : sql` and rowid >= ${range.lo}`;
    const hi = range.hi === undefined ? sql`` : sql` and rowid < ${range.hi}`;
    const r = await sql<{ n: number }>`select count(*) as n from (select rowid from message_fts where message_fts match ${engineQuery}${lo}${hi} limit ${cap})`.execute(db);
    return Number(r.rows[0]!.n);
  }
  const lo = range.lo === undefined ? sql`` : sql` and search_key >= ${range.lo}`;
  const hi = range.hi === undefined ? sql`` : sql` and search_key < ${range.hi}`;
  const r = await sql<{ n: number }>`select count(*) as n from (select 1 from message_search where tsv @@ ${engineQuery}::tsquery${lo}${hi} limit ${cap}) h`.execute(db);
  return Number(r.rows[0]!.n);
}

/**
 * The key of the (n+1)-th newest match, or null when there are at most n: keys above it are the newest n matches. Lets a
 * count that must test every match against filters stop after n of them.
 */
export async function keyAfterNewest(db: Kysely<Database>, dialect: DialectName, engineQuery: string, range: KeyRange, n: number): Promise<number | null> {
  const r =
    dialect === 'sqlite'
      ? await sql<{ k: number }>`select rowid as k from message_fts where message_fts match ${engineQuery}${range.lo === undefined ? sql`` : sql` and rowid >= ${range.lo}`}${range.hi === undefined ? sql`` : sql` and rowid < ${range.hi}`} order by rowid desc limit 1 offset ${n}`.execute(db)
      : await sql<{ k: number }>`select search_key as k from message_search where tsv @@ ${engineQuery}::tsquery${range.lo === undefined ? sql`` : sql` and search_key >= ${range.lo}`}${range.hi === undefined ? sql`` : sql` and search_key < ${range.hi}`} order by search_key desc limit 1 offset ${n}`.execute(db);
  return r.rows[0] ? Number(r.rows[0].k) : null;
}

/** Relevance score of a matched `m` (its index row joined by matchingMessages()), larger is better. */
export function relevanceScore(dialect: DialectName, engineQuery: string): RawBuilder<number> {
  // FTS5's bm25 is negative-is-better
  if (dialect === 'sqlite') return sql<number>`-bm25(message_fts)`;
  return sql<number>`ts_rank(s.tsv, ${engineQuery}::tsquery)`;
}

/** Removes the index entries of these messages (the retention purge), in the caller's transaction. */
export async function deleteSearchDocs(trx: Kysely<any>, dialect: DialectName, messageIds: string[]): Promise<void> {
  for (let i = 0; i < messageIds.length; i += 400) {
    const chunk = messageIds.slice(i, i + 400);
    // FTS5 with contentless_delete=1 accepts a plain DELETE by rowid; a message without an entry (events) is a no-op
    if (dialect === 'sqlite') await sql`delete from message_fts where rowid in (select search_key from message where id in (${sql.join(chunk)}))`.execute(trx);
    else await sql`delete from message_search where message_id = any(${chunk}::text[])`.execute(trx);
  }
}
