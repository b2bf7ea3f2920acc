import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { DialectName } from './index.ts';

/** A message's index entry: the token string made by the archive tokenizer. */
export interface SearchDoc {
  messageId: string;
  tokens: string;
}

/** Writes index entries in the caller's transaction, so a message and its index entry commit together. */
export async function writeSearchDocs(trx: Kysely<any>, dialect: DialectName, docs: SearchDoc[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 400) {
    const chunk = docs.slice(i, i + 400);
    if (dialect === 'sqlite') {
      const values = sql.join(chunk.map((d) => sql`(${d.messageId}, ${d.tokens})`));
      await sql`insert into message_fts (rowid, tokens) select m.rowid, v.column2 from (values ${values}) as v join message m on m.id = v.column1`.execute(trx);
    } else {
      await sql`insert into message_search (message_id, tsv) select v.id, to_tsvector('simple', v.t) from unnest(${chunk.map((d) => d.messageId)}::text[], ${chunk.map((d) => d.tokens)}::text[]) as v(id, t)`.execute(trx);
    }
  }
}

/**
 * A condition on `m` (the message table alias) that is true when the message matches the engine query
 * (an FTS5 MATCH expression in SQLite, a tsquery text in PostgreSQL — both from the archive tokenizer).
 */
export function matchCondition(dialect: DialectName, engineQuery: string): Expression<SqlBool> {
  if (dialect === 'sqlite') return sql<SqlBool>`m.rowid in (select rowid from message_fts where message_fts match ${engineQuery})`;
  return sql<SqlBool>`exists (select 1 from message_search s where s.message_id = m.id and s.tsv @@ ${engineQuery}::tsquery)`;
}

/** Relevance score of `m` for the engine query: larger is better in both dialects. */
export function relevanceScore(dialect: DialectName, engineQuery: string): RawBuilder<number> {
  if (dialect === 'sqlite') {
    // bm25 is only defined inside a MATCH over the FTS table, hence the correlated lookup; FTS5's bm25 is negative-is-better
    return sql<number>`(select -bm25(message_fts) from message_fts where message_fts match ${engineQuery} and rowid = m.rowid)`;
  }
  return sql<number>`(select ts_rank(s.tsv, ${engineQuery}::tsquery) from message_search s where s.message_id = m.id)`;
}

/** Removes the index entries of these messages (the retention purge), in the caller's transaction. */
export async function deleteSearchDocs(trx: Kysely<any>, dialect: DialectName, messageIds: string[]): Promise<void> {
  for (let i = 0; i < messageIds.length; i += 400) {
    const chunk = messageIds.slice(i, i + 400);
    // FTS5 with contentless_delete=1 accepts a plain DELETE by rowid; a message without an entry (events) is a no-op
    if (dialect === 'sqlite') await sql`delete from message_fts where rowid in (select rowid from message where id in (${sql.join(chunk)}))`.execute(trx);
    else await sql`delete from message_search where message_id = any(${chunk}::text[])`.execute(trx);
  }
}
