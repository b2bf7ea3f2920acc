import type { Kysely } from 'kysely';
import { autoIncrementId } from '../dialect/index.ts';

// One migration set for both dialects: only types that mean the same in SQLite and PostgreSQL.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('customer')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('external_id', 'text', (c) => c.unique())
    .addColumn('visitor_token_hash', 'text', (c) => c.unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('phone', 'text')
    .addColumn('email', 'text')
    .addColumn('vip_level', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('app_user')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('login', 'text', (c) => c.notNull().unique())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('session')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();

  await db.schema
    .createTable('conversation')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('external_id', 'text', (c) => c.unique())
    .addColumn('customer_id', 'text', (c) => c.notNull().references('customer.id'))
    .addColumn('open_client_id', 'text')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text')
    .addColumn('assignee_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_hash', 'text', (c) => c.notNull())
    .addColumn('last_message_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('first_response_at', 'bigint')
    .addColumn('resolved_at', 'bigint')
    .execute();
  await db.schema.createIndex('conversation_customer_idx').on('conversation').columns(['customer_id', 'created_at']).execute();
  // a customer's retried "open a conversation with this first message" finds the conversation it already opened
  await db.schema.createIndex('conversation_open_client_uq').on('conversation').columns(['customer_id', 'open_client_id']).unique().execute();
  await db.schema.createIndex('conversation_state_idx').on('conversation').columns(['state', 'last_message_at']).execute();

  await db.schema
    .createTable('message')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversation.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('client_id', 'text')
    .addColumn('sender_kind', 'text', (c) => c.notNull())
    .addColumn('sender_id', 'text')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('message_conversation_seq_uq', ['conversation_id', 'seq'])
    .addUniqueConstraint('message_conversation_client_uq', ['conversation_id', 'client_id'])
    .execute();
  await db.schema.createIndex('message_created_idx').on('message').column('created_at').execute();

  await db.schema
    .createTable('conversation_event')
    .addColumn('id', autoIncrementId(db), (c) => c.primaryKey())
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text')
    .addColumn('actor_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('conversation_event_conv_idx').on('conversation_event').columns(['conversation_id', 'at']).execute();

  await db.schema
    .createTable('read_marker')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('last_read_seq', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('read_marker_pk', ['user_id', 'conversation_id'])
    .execute();
}
