import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';

// A live message should change as few B-tree pages as it can: with thousands of live conversations, each index keyed
// by conversation puts every message on a page of its own, and every such page is written to the WAL at commit (the
// largest part of the message writer's cost, docs/BENCHMARKS.md). Indexes that no reader needs for live messages
// leave them out:
// - who wrote in a conversation matters for staff only (an agent's "conversations I replied in"), and once per
//   conversation: a participant row written at an agent's first message there instead of an index entry per message;
// - per-conversation event lookups are for the lifecycle events; message events are read in time order;
// - the inbox lists live conversations, a few thousand, and sorts them by last message itself, so last_message_at
//   no longer moves an index entry with every message; retention finds old ended conversations by it.
// And a read marker (an agent's reply moves it) and a participant are one B-tree each, not a table and its key
// index (SQLite).
export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = dialectOf(db) === 'sqlite';
  await sql`create table conversation_participant (conversation_id text not null, user_id text not null, primary key (conversation_id, user_id))${sql.raw(sqlite ? ' without rowid' : '')}`.execute(db);
  await sql`insert into conversation_participant (conversation_id, user_id) select distinct conversation_id, sender_id from message where sender_kind = 'agent' and sender_id is not null`.execute(db);
  await db.schema.dropIndex('message_sender_idx').execute();
  await db.schema.dropIndex('conversation_event_conv_idx').execute();
  await sql`create index conversation_event_conv_idx on conversation_event (conversation_id, at) where kind <> 'message'`.execute(db);
  await db.schema.dropIndex('conversation_state_idx').execute();
  await sql`create index conversation_live_idx on conversation (state) where state in ('bot', 'queued', 'assigned')`.execute(db);
  await sql`create index conversation_ended_idx on conversation (last_message_at) where state in ('resolved', 'closed')`.execute(db);
  if (sqlite) {
    await sql`create table read_marker_new (user_id text not null, conversation_id text not null, last_read_seq integer not null, primary key (user_id, conversation_id)) without rowid`.execute(db);
    await sql`insert into read_marker_new (user_id, conversation_id, last_read_seq) select user_id, conversation_id, last_read_seq from read_marker`.execute(db);
    await sql`drop table read_marker`.execute(db);
    await sql`alter table read_marker_new rename to read_marker`.execute(db);
  }
}
