import type { Kysely } from 'kysely';

// Departments and skill groups (售前/售后/技术/VIP…): what a supervisor oversees and whose queue an agent serves.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('department')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('agent_group')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('department_id', 'text', (c) => c.references('department.id'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('group_member')
    .addColumn('group_id', 'text', (c) => c.notNull().references('agent_group.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('app_user.id'))
    .addPrimaryKeyConstraint('group_member_pk', ['group_id', 'user_id'])
    .execute();
  await db.schema.createIndex('group_member_user_idx').on('group_member').columns(['user_id', 'group_id']).execute();
  await db.schema.alterTable('app_user').addColumn('department_id', 'text').execute();
  await db.schema.createIndex('message_sender_idx').on('message').columns(['sender_id', 'conversation_id']).execute();
}
