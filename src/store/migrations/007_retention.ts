import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';

// Retention policies, legal holds, and the one change the append-only triggers allow on a message: the retention purge,
// which empties the body and stamps purged_at. Every other column (seq, hash, sender, time) stays, so the chain still
// verifies; a purged row can never be purged again or changed in any other way, and no message is ever deleted.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('retention_policy')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('keep_days', 'integer', (c) => c.notNull())
    .addColumn('channel', 'text')
    .addColumn('group_id', 'text')
    .addColumn('tag', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('legal_hold')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('placed_by', 'text', (c) => c.notNull())
    .addColumn('placed_at', 'bigint', (c) => c.notNull())
    .addColumn('released_by', 'text')
    .addColumn('released_at', 'bigint')
    .execute();
  await db.schema.createIndex('legal_hold_target_idx').on('legal_hold').columns(['target_type', 'target_id', 'released_at']).execute();

  await db.schema.alterTable('message').addColumn('purged_at', 'bigint').execute();
  // messages up to this seq have been purged; the purge job only looks at conversations with later messages
  await db.schema.alterTable('conversation').addColumn('purged_through_seq', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  if (dialectOf(db) === 'sqlite') {
    // SQLite cannot compare whole rows, so the columns a purge must leave alone are listed; a column added to message
    // later must be added here too.
    const kept = ['id', 'conversation_id', 'seq', 'client_id', 'sender_kind', 'sender_id', 'type', 'created_at', 'hash'].map((c) => `new.${c} is old.${c}`).join(' and ');
    await sql`drop trigger message_append_only_update`.execute(db);
    await sql
      .raw(
        `create trigger message_append_only_update before update on message
         when not (old.purged_at is null and new.purged_at is not null and new.body = '' and ${kept})
         begin select raise(abort, 'message rows are append-only'); end`,
      )
      .execute(db);
  } else {
    // the whole row except body and purged_at must be unchanged, including columns added by later migrations
    await sql`
      create function kefu_message_guard() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and old.purged_at is null and new.purged_at is not null and new.body = ''
           and (to_jsonb(new) - 'body' - 'purged_at') = (to_jsonb(old) - 'body' - 'purged_at') then
          return new;
        end if;
        raise exception 'message rows are append-only';
      end $$`.execute(db);
    await sql`drop trigger message_append_only on message`.execute(db);
    await sql`create trigger message_append_only before update or delete on message for each row execute function kefu_message_guard()`.execute(db);
  }
}
