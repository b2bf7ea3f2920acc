import { type Kysely, sql } from 'kysely';
import { dialectOf } from '../dialect/index.ts';

// The search index holds token strings made by src/archive's tokenizer: FTS5 in SQLite, tsvector + GIN in PostgreSQL.
export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) === 'sqlite') {
    // contentless: the text lives in `message`; rowid = message.rowid. prefix='5' served 1-character queries (dropped by 015).
    await sql`create virtual table message_fts using fts5(tokens, content='', contentless_delete=1, prefix='5')`.execute(db);
  } else {
    await db.schema
      .createTable('message_search')
      .addColumn('message_id', 'text', (c) => c.primaryKey().references('message.id'))
      .addColumn('tsv', sql`tsvector`, (c) => c.notNull())
      .execute();
    await sql`create index message_search_tsv_idx on message_search using gin (tsv)`.execute(db);
  }

  await db.schema
    .createTable('conversation_tag')
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversation.id'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('conversation_tag_pk', ['conversation_id', 'tag'])
    .execute();
  await db.schema.createIndex('conversation_tag_tag_idx').on('conversation_tag').columns(['tag', 'conversation_id']).execute();
  await db.schema.createIndex('conversation_assignee_idx').on('conversation').columns(['assignee_id', 'created_at']).execute();
  await db.schema.createIndex('message_conversation_created_idx').on('message').columns(['conversation_id', 'created_at']).execute();
}
