import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';
import { KEY_SLOTS_PER_MS } from '../search-keys.ts';
import { indexText } from '../../archive/tokenizer.ts';

// A time-ordered search key per message (created_at × KEY_SLOTS_PER_MS + n). In SQLite it is the FTS5 rowid, so
// "newest first" is the index's own order and a time filter is a rowid range: the search stops after a page of hits
// instead of sorting all of them. It also stops depending on message.rowid, which VACUUM may renumber for a table
// with a TEXT primary key. In PostgreSQL it is the shared sort key, so both dialects page in the same order.
//
// Existing messages get keys in (created_at, insertion) order and, in SQLite, the index is rebuilt under them (the
// table is contentless, so the tokens are made again from the bodies; purged and event messages have no entry).
export async function up(db: Kysely<any>): Promise<void> {
  const dialect = dialectOf(db);
  await db.schema.alterTable('message').addColumn('search_key', 'bigint').execute();
  await db.schema
    .createTable('search_index_state')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .execute();

  const rows = await sql<{ id: string; created_at: number; indexed: number; body: string }>`
    select id, created_at, case when type <> 'event' and purged_at is null then 1 else 0 end as indexed, body
    from message order by created_at, ${dialect === 'sqlite' ? sql`rowid` : sql`id`}`.execute(db);
  let last = -1;
  let drift = 0;
  const keyed = rows.rows.map((r) => {
    const at = Number(r.created_at);
    const key = Math.max(at * KEY_SLOTS_PER_MS, last + 1);
    last = key;
    drift = Math.max(drift, Math.floor(key / KEY_SLOTS_PER_MS) - at);
    return { ...r, key };
  });
  await db.insertInto('search_index_state').values({ name: 'max_drift_ms', value: drift }).execute();

  if (dialect === 'sqlite') {
    // the append-only trigger lists the columns a purge must leave alone; the key is one of them from now on
    await sql`drop trigger message_append_only_update`.execute(db);
    for (const r of keyed) await sql`update message set search_key = ${r.key} where id = ${r.id}`.execute(db);
    const kept = ['id', 'conversation_id', 'seq', 'client_id', 'sender_kind', 'sender_id', 'type', 'created_at', 'hash', 'search_key'].map((c) => `new.${c} is old.${c}`).join(' and ');
    await sql
      .raw(
        `create trigger message_append_only_update before update on message
         when not (old.purged_at is null and new.purged_at is not null and new.body = '' and ${kept})
         begin select raise(abort, 'message rows are append-only'); end`,
      )
      .execute(db);
    await sql`insert into message_fts (message_fts) values ('delete-all')`.execute(db);
    for (const r of keyed) {
      if (r.indexed) await sql`insert into message_fts (rowid, tokens) values (${r.key}, ${indexText(r.body)})`.execute(db);
    }
    await sql`create unique index message_search_key_idx on message (search_key)`.execute(db);
  } else {
    await sql`alter table message disable trigger message_append_only`.execute(db);
    for (let i = 0; i < keyed.length; i += 5000) {
      const chunk = keyed.slice(i, i + 5000);
      await sql`update message set search_key = v.k from unnest(${chunk.map((r) => r.id)}::text[], ${chunk.map((r) => r.key)}::bigint[]) as v(id, k) where message.id = v.id`.execute(db);
    }
    await sql`alter table message enable trigger message_append_only`.execute(db);
    // several nodes may assign keys at once in cluster mode; order ties break by id, so the key need not be unique here
    await sql`create index message_search_key_idx on message (search_key)`.execute(db);
    // the default statistics miss rare lexemes (order numbers, no-hit words), and the planner then walks the whole
    // message table in time order for a term with 0–2 hits; 1000 keeps them (docs/BENCHMARKS.md, "Archive search")
    await sql`alter table message_search alter column tsv set statistics 1000`.execute(db);
  }
}
