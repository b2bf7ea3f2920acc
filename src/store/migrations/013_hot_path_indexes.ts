import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';

// A live message should change as few B-tree pages as it can: with thousands of live conversations, each index keyed
// by conversation puts every message on a page of its own, and every such page is written to the WAL at commit (the
// largest part of the message writer's cost, docs/BENCHMARKS.md). Indexes that no reader needs for live messages
// leave them out:
// - who wrote in a conversation matters for staff only (an agent's "conversations I replied in");
// - per-conversation event lookups are for the lifecycle events; message events are read in time order;
// - the inbox lists live conversations, a few thousand, and sorts them by last message itself, so last_message_at
//   no longer moves an index entry with every message; retention finds old ended conversations by it.
// And a read marker (an agent's reply moves it) is one B-tree instead of a table and its key index (SQLite).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('message_sender_idx').execute();
  await sql`create index message_staff_sender_idx on message (sender_id, conversation_id) where sender_kind = 'agent'`.execute(db);
  await db.schema.dropIndex('conversation_event_conv_idx').execute();
  await sql`create index conversation_event_conv_idx on conversation_event (conversation_id, at) where kind <> 'message'`.execute(db);
  await db.schema.dropIndex('conversation_state_idx').execute();
  await sql`create index conversation_live_idx on conversation (state) where state in ('bot', 'queued', 'assigned')`.execute(db);
  await sql`create index conversation_ended_idx on conversation (last_message_at) where state in ('resolved', 'closed')`.execute(db);
  if (dialectOf(db) === 'sqlite') {
    await sql`create table read_marker_new (user_id text not null, conversation_id text not null, last_read_seq integer not null, primary key (user_id, conversation_id)) without rowid`.execute(db);
    await sql`insert into read_marker_new (user_id, conversation_id, last_read_seq) select user_id, conversation_id, last_read_seq from read_marker`.execute(db);
    await sql`drop table read_marker`.execute(db);
    await sql`alter table read_marker_new rename to read_marker`.execute(db);
  }
}
