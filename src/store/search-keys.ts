import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { dialectOf } from './dialect/index.ts';
import { executeShaped } from './shaped-statements.ts';

/**
 * Search keys: each message's position in the search index, ordered like its created_at. A key is
 * `created_at × KEY_SLOTS_PER_MS + n`, the first free one at or after the message's millisecond, so up to
 * KEY_SLOTS_PER_MS messages a millisecond keep their exact time in the key. Beyond that (an import with coarse
 * timestamps, a burst) a key spills into a later millisecond; `max_drift_ms` records the largest spill, and a time
 * filter widens its key range by it, so a range query stays exact (the message's own created_at is checked too).
 *
 * Small slots keep the index small: FTS5 stores rowid deltas, and every doubling of the slots adds a bit to each.
 * 8 a millisecond is 8,000 messages a second before anything spills, well above what one node commits.
 */
export const KEY_SLOTS_PER_MS = 8;

/** The smallest key a message created at `ms` can have. */
export const keyFloor = (ms: number) => ms * KEY_SLOTS_PER_MS;

/**
 * Keys for messages to be written in this transaction, in the order given. Records a new maximum drift.
 * `live[i]` marks a message stamped with the commit time: it takes the first key after every key in use even when
 * that is past its own millisecond (a batch of live messages shares one millisecond, and the batch before may have
 * spilled past it), never a search of the keys in use for a gap; messages of the past (imports) fill gaps.
 */
export async function allocateSearchKeys(trx: Kysely<Database>, createdAts: number[], live: boolean[] = []): Promise<number[]> {
  if (createdAts.length === 0) return [];
  const {
    rows: [top],
  } = await executeShaped<{ k: number | string | null }>(trx, `search-keys.top:${dialectOf(trx)}`, [], () => trx.selectFrom('message').select((eb) => eb.fn.max('search_key').as('k')));
  let next = top?.k == null ? 0 : Number(top.k) + 1;
  const keys: number[] = new Array(createdAts.length);
  const past: number[] = [];
  for (let i = 0; i < createdAts.length; i++) {
    const floor = keyFloor(createdAts[i]!);
    // live messages and imports of newer history: after every key in use, no lookup
    if (floor >= next || live[i]) {
      keys[i] = Math.max(floor, next);
      next = keys[i]! + 1;
    } else past.push(i);
  }
  if (past.length > 0) await fillPastKeys(trx, createdAts, past, keys, next);

  let drift = 0;
  for (let i = 0; i < keys.length; i++) drift = Math.max(drift, Math.floor(keys[i]! / KEY_SLOTS_PER_MS) - createdAts[i]!);
  if (drift > 0) await raiseDrift(trx, drift);
  return keys;
}

/**
 * Imports into the past: the first free key at or after each message's floor, around the keys already used. Messages
 * are taken in time order and the used keys are read one window at a time, so an import into an empty stretch of time
 * reads nothing but a few index probes.
 */
async function fillPastKeys(trx: Kysely<Database>, createdAts: number[], past: number[], keys: number[], next: number): Promise<void> {
  // this batch's own new keys are not in the table yet
  const taken = new Set<number>();
  for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) taken.add(keys[i]!);
  past.sort((a, b) => createdAts[a]! - createdAts[b]! || a - b);
  let windowTo = -1;
  let last = -1;
  for (const i of past) {
    let k = Math.max(keyFloor(createdAts[i]!), last + 1);
    // at or past `next` every key is free
    while (k < next) {
      if (k > windowTo) {
        windowTo = k + 4096;
        const used = await trx.selectFrom('message').select('search_key').where('search_key', '>=', k).where('search_key', '<=', windowTo).execute();
        for (const u of used) taken.add(Number(u.search_key));
      }
      if (!taken.has(k)) break;
      k++;
    }
    keys[i] = k;
    taken.add(k);
    last = k;
    if (k >= next) next = k + 1;
  }
}

async function raiseDrift(trx: Kysely<Database>, drift: number): Promise<void> {
  const cur = await readDrift(trx);
  if (drift <= cur) return;
  await trx
    .insertInto('search_index_state')
    .values({ name: 'max_drift_ms', value: drift })
    .onConflict((oc) => oc.column('name').doUpdateSet({ value: drift }))
    .execute();
}

/** How far any key may be past its message's millisecond (0 unless some millisecond had more than its slots). */
export async function readDrift(db: Kysely<Database>): Promise<number> {
  const r = await db.selectFrom('search_index_state').select('value').where('name', '=', 'max_drift_ms').executeTakeFirst();
  return r ? Number(r.value) : 0;
}

/** The key range [lo, hi) that holds every message created in [from, to). */
export function keyRange(from: number | undefined, to: number | undefined, driftMs: number): { lo?: number; hi?: number } {
  return { lo: from === undefined ? undefined : keyFloor(from), hi: to === undefined ? undefined : keyFloor(to + driftMs) };
}

