import type { Kysely } from 'kysely';

// Every message pays for each index of its table at insert time, and two are no longer read: time order and time
// filters go through the search key (009), and a conversation's messages are read by (conversation_id, seq).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('message_created_idx').execute();
  await db.schema.dropIndex('message_conversation_created_idx').execute();
}
