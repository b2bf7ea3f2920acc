import type { Kysely } from 'kysely';
import { inChunks, type Database } from '../store/index.ts';

// What an import of existing chat records needs of conversations: lookups by external id, and the agents named in the file.

const CHUNK = 500;


/** external_id → conversation id, for the external ids that exist */
export async function conversationsByExternalId(db: Kysely<Database>, externalIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await inChunks(externalIds, (chunk) => db.selectFrom('conversation').select(['id', 'external_id']).where('external_id', 'in', chunk).execute());
  return new Map(rows.map((r) => [r.external_id!, r.id]));
}

/**
 * The agents named for an imported conversation, as `assigned` events: `assigneeId` is the staff account when the
 * login exists, else null, and `agent` keeps the name as written in the file either way.
 */
export async function recordImportedAgents(
  db: Kysely<Database>,
  events: Array<{ conversationId: string; agent: string; userId: string | null; at: number }>,
): Promise<void> {
  for (let i = 0; i < events.length; i += CHUNK) {
    await db
      .insertInto('conversation_event')
      .values(
        events.slice(i, i + CHUNK).map((e) => ({
          conversation_id: e.conversationId,
          kind: 'assigned' as const,
          actor_kind: 'system' as const,
          actor_id: null,
          data: JSON.stringify({ assigneeId: e.userId, agent: e.agent, source: 'import' }),
          at: e.at,
        })),
      )
      .execute();
  }
}

/** Files imported conversations under their agent: staff user id → conversation ids. */
export async function assignConversations(db: Kysely<Database>, assignments: Map<string, string[]>): Promise<void> {
  for (const [userId, conversationIds] of assignments) {
    for (let i = 0; i < conversationIds.length; i += CHUNK) {
      await db.updateTable('conversation').set({ assignee_id: userId }).where('id', 'in', conversationIds.slice(i, i + CHUNK)).execute();
    }
  }
}
