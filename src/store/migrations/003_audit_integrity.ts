import { type Kysely, sql } from 'kysely';
import { autoIncrementId, dialectOf } from '../dialect/index.ts';

// Audit trail (hash-chained like messages) and database triggers that refuse in-place changes of messages and audit events.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_event')
    .addColumn('id', autoIncrementId(db), (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('actor_login', 'text', (c) => c.notNull())
    .addColumn('actor_role', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('query', 'text')
    .addColumn('ip', 'text')
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_event_at_idx').on('audit_event').column('at').execute();
  await db.schema.createIndex('audit_event_actor_idx').on('audit_event').columns(['actor_login', 'at']).execute();
  await db.schema.createIndex('audit_event_action_idx').on('audit_event').columns(['action', 'at']).execute();

  if (dialectOf(db) === 'sqlite') {
    for (const table of ['message', 'audit_event']) {
      await sql.raw(`create trigger ${table}_append_only_update before update on ${table} begin select raise(abort, '${table} rows are append-only'); end`).execute(db);
      await sql.raw(`create trigger ${table}_append_only_delete before delete on ${table} begin select raise(abort, '${table} rows are append-only'); end`).execute(db);
    }
  } else {
    await sql`create function kefu_refuse_change() returns trigger language plpgsql as $$ begin raise exception '% rows are append-only', tg_table_name; end $$`.execute(db);
    for (const table of ['message', 'audit_event']) {
      await sql.raw(`create trigger ${table}_append_only before update or delete on ${table} for each row execute function kefu_refuse_change()`).execute(db);
    }
  }
}
