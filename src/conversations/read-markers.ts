import { sql, type Kysely } from 'kysely';
import { dialectOf, powerOfTwoChunks, type Database } from '../store/index.ts';
import { executeShaped, rowValues } from '../store/shaped-statements.ts';

/** Moves read markers forward, never back: a late or repeated marker cannot make read messages unread again. */
export async function advanceReadMarkers(db: Kysely<Database>, markers: Array<Database['read_marker']>): Promise<void> {
  for (const chunk of powerOfTwoChunks(markers)) await upsert(db, chunk);
}

async function upsert(db: Kysely<Database>, markers: Array<Database['read_marker']>): Promise<void> {
  await executeShaped(db, `read-markers:${dialectOf(db)}:${markers.length}`, rowValues(markers, ['user_id', 'conversation_id', 'last_read_seq']), () =>
    db
      .insertInto('read_marker')
      .values(markers)
      .onConflict((oc) =>
        oc.columns(['user_id', 'conversation_id']).doUpdateSet({
          last_read_seq: sql<number>`case when excluded.last_read_seq > read_marker.last_read_seq then excluded.last_read_seq else read_marker.last_read_seq end`,
        }),
      ),
  );
}
