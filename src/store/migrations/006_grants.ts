import type { Kysely } from 'kysely';

// Access grants (申请-审批): who asked to read what, why and for how long; who decided; and, fixed at approval, exactly
// which conversations the grant covers.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('access_grant')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('requester_id', 'text', (c) => c.notNull().references('app_user.id'))
    .addColumn('requester_login', 'text', (c) => c.notNull())
    .addColumn('scope_kind', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('duration_ms', 'bigint', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'bigint', (c) => c.notNull())
    .addColumn('approver_id', 'text')
    .addColumn('approver_login', 'text')
    .addColumn('decided_at', 'bigint')
    .addColumn('decision_note', 'text')
    .addColumn('expires_at', 'bigint')
    .addColumn('covered_count', 'integer')
    .addColumn('revoked_at', 'bigint')
    .addColumn('revoked_by', 'text')
    .execute();
  await db.schema.createIndex('access_grant_requester_idx').on('access_grant').columns(['requester_id', 'state', 'expires_at']).execute();
  await db.schema.createIndex('access_grant_state_idx').on('access_grant').columns(['state', 'requested_at']).execute();
  await db.schema
    .createTable('access_grant_conversation')
    .addColumn('grant_id', 'text', (c) => c.notNull().references('access_grant.id'))
    .addColumn('conversation_id', 'text', (c) => c.notNull().references('conversation.id'))
    .addPrimaryKeyConstraint('access_grant_conversation_pk', ['grant_id', 'conversation_id'])
    .execute();
  await db.schema.createIndex('access_grant_conversation_idx').on('access_grant_conversation').columns(['conversation_id', 'grant_id']).execute();
  // the read policy looks up sensitive customers (VIP level ≥ 1) on every auditor's query
  await db.schema.createIndex('customer_vip_idx').on('customer').columns(['vip_level', 'id']).execute();
}
