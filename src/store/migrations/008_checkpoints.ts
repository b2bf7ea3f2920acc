import type { Kysely } from 'kysely';
import { autoIncrementId } from '../dialect/index.ts';

// Checkpoints pin the heads of the message chains (and of the audit chain) at a moment, chained to one another;
// their Merkle root can be kept outside kefu, so even a rewrite that recomputes every hash is detectable.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('chain_checkpoint')
    .addColumn('id', autoIncrementId(db), (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('conversations', 'integer', (c) => c.notNull())
    .addColumn('merkle_root', 'text', (c) => c.notNull())
    .addColumn('audit_event_id', 'bigint')
    .addColumn('audit_hash', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('checkpoint_head')
    .addColumn('checkpoint_id', 'bigint', (c) => c.notNull())
    .addColumn('conversation_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('checkpoint_head_pk', ['checkpoint_id', 'conversation_id'])
    .execute();
  await db.schema.createIndex('checkpoint_head_conversation_idx').on('checkpoint_head').columns(['conversation_id', 'seq']).execute();
}
