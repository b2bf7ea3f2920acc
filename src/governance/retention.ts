import { sql, type Kysely, type Selectable } from 'kysely';
import { newId, type Database, type DialectName } from '../store/index.ts';
import { deleteSearchDocs } from '../store/dialect/search.ts';
import { appendAuditWithin, type AuditActor } from './audit.ts';
import { findGroup } from './org.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** conversations purged per transaction; each batch commits together with its audit event */
const BATCH = 100;

interface StoreLike {
  db: Kysely<Database>;
  dialect: DialectName;
}

export class RetentionError extends Error {
  constructor(
    public readonly code: 'invalid' | 'not_found' | 'name_taken',
    message: string,
  ) {
    super(message);
  }
}

// ---- policies ----

export interface RetentionPolicy {
  id: string;
  name: string;
  keepDays: number;
  channel: string | null;
  groupId: string | null;
  tag: string | null;
  createdBy: string;
  createdAt: number;
}

function toPolicy(r: Selectable<Database['retention_policy']>): RetentionPolicy {
  return { id: r.id, name: r.name, keepDays: Number(r.keep_days), channel: r.channel, groupId: r.group_id, tag: r.tag, createdBy: r.created_by, createdAt: Number(r.created_at) };
}

export interface NewPolicy {
  name: string;
  keepDays: number;
  channel?: string | null;
  /** group id or name */
  group?: string | null;
  tag?: string | null;
}

export async function addPolicy(store: StoreLike, input: NewPolicy, actor: AuditActor): Promise<RetentionPolicy> {
  const name = input.name.trim();
  if (!name) throw new RetentionError('invalid', 'a policy needs a name');
  if (!Number.isInteger(input.keepDays) || input.keepDays < 1 || input.keepDays > 36500) throw new RetentionError('invalid', 'keep days must be a whole number from 1 to 36500');
  let groupId: string | null = null;
  if (input.group) {
    const g = await findGroup(store.db, input.group);
    if (!g) throw new RetentionError('not_found', `group ${input.group} does not exist`);
    groupId = g.id;
  }
  const policy: RetentionPolicy = { id: newId('ret'), name, keepDays: input.keepDays, channel: input.channel || null, groupId, tag: input.tag || null, createdBy: actor.login, createdAt: Date.now() };
  return store.db.transaction().execute(async (trx) => {
    if (await trx.selectFrom('retention_policy').select('id').where('name', '=', name).executeTakeFirst()) throw new RetentionError('name_taken', `a retention policy named "${name}" already exists`);
    await trx
      .insertInto('retention_policy')
      .values({ id: policy.id, name, keep_days: policy.keepDays, channel: policy.channel, group_id: groupId, tag: policy.tag, created_by: actor.login, created_at: policy.createdAt })
      .execute();
    await appendAuditWithin(trx, store.dialect, { actor, action: 'retention.policy_add', target: { type: 'retention_policy', id: policy.id }, detail: { name, keepDays: policy.keepDays, channel: policy.channel, groupId, tag: policy.tag } });
    return policy;
  });
}

export async function listPolicies(db: Kysely<Database>): Promise<RetentionPolicy[]> {
  return (await db.selectFrom('retention_policy').selectAll().orderBy('name').execute()).map(toPolicy);
}

/** Removes a policy given by id or name; conversations it covered fall under the remaining policies (or none). */
export async function removePolicy(store: StoreLike, idOrName: string, actor: AuditActor): Promise<RetentionPolicy> {
  return store.db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('retention_policy').selectAll().where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
    if (!r) throw new RetentionError('not_found', `no retention policy ${idOrName}`);
    await trx.deleteFrom('retention_policy').where('id', '=', r.id).execute();
    const p = toPolicy(r);
    await appendAuditWithin(trx, store.dialect, { actor, action: 'retention.policy_remove', target: { type: 'retention_policy', id: p.id }, detail: { name: p.name, keepDays: p.keepDays, channel: p.channel, groupId: p.groupId, tag: p.tag } });
    return p;
  });
}

/**
 * The policy that governs a conversation: among those whose filters all match, the most specific (most filters set)
 * wins, so "channel email: 30 days" overrides a general "365 days"; between equally specific ones the longer keep wins.
 */
export function governingPolicy(policies: RetentionPolicy[], c: { channel: string; groupId: string | null; tags: string[] }): RetentionPolicy | undefined {
  let best: RetentionPolicy | undefined;
  let bestScore = -1;
  for (const p of policies) {
    if (p.channel !== null && p.channel !== c.channel) continue;
    if (p.groupId !== null && p.groupId !== c.groupId) continue;
    if (p.tag !== null && !c.tags.includes(p.tag)) continue;
    const score = (p.channel !== null ? 1 : 0) + (p.groupId !== null ? 1 : 0) + (p.tag !== null ? 1 : 0);
    if (score > bestScore || (score === bestScore && best && p.keepDays > best.keepDays)) {
      best = p;
      bestScore = score;
    }
  }
  return best;
}

// ---- legal holds ----

export interface LegalHold {
  id: string;
  targetType: 'customer' | 'conversation';
  targetId: string;
  reason: string;
  placedBy: string;
  placedAt: number;
  releasedBy: string | null;
  releasedAt: number | null;
}

function toHold(r: Selectable<Database['legal_hold']>): LegalHold {
  return {
    id: r.id,
    targetType: r.target_type,
    targetId: r.target_id,
    reason: r.reason,
    placedBy: r.placed_by,
    placedAt: Number(r.placed_at),
    releasedBy: r.released_by,
    releasedAt: r.released_at === null ? null : Number(r.released_at),
  };
}

/** Places a legal hold on a customer (all their conversations, also future ones) or one conversation, by id or external id. */
export async function placeHold(store: StoreLike, input: { targetType: 'customer' | 'conversation'; target: string; reason: string }, actor: AuditActor): Promise<LegalHold> {
  const reason = input.reason.trim();
  if (!reason) throw new RetentionError('invalid', 'a legal hold needs a reason');
  const table = input.targetType === 'customer' ? 'customer' : 'conversation';
  const found = await store.db
    .selectFrom(table)
    .select('id')
    .where((eb) => eb.or([eb('id', '=', input.target), eb('external_id', '=', input.target)]))
    .executeTakeFirst();
  if (!found) throw new RetentionError('not_found', `${input.targetType} ${input.target} does not exist`);
  const hold: LegalHold = { id: newId('hold'), targetType: input.targetType, targetId: found.id, reason, placedBy: actor.login, placedAt: Date.now(), releasedBy: null, releasedAt: null };
  await store.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('legal_hold')
      .values({ id: hold.id, target_type: hold.targetType, target_id: hold.targetId, reason, placed_by: actor.login, placed_at: hold.placedAt, released_by: null, released_at: null })
      .execute();
    await appendAuditWithin(trx, store.dialect, { actor, action: 'hold.place', target: { type: hold.targetType, id: hold.targetId }, detail: { holdId: hold.id, reason } });
  });
  return hold;
}

export async function releaseHold(store: StoreLike, id: string, actor: AuditActor): Promise<LegalHold> {
  return store.db.transaction().execute(async (trx) => {
    const at = Date.now();
    const res = await trx.updateTable('legal_hold').set({ released_at: at, released_by: actor.login }).where('id', '=', id).where('released_at', 'is', null).executeTakeFirst();
    const r = await trx.selectFrom('legal_hold').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new RetentionError('not_found', `no legal hold ${id}`);
    if (Number(res.numUpdatedRows) === 0) throw new RetentionError('invalid', `legal hold ${id} was already released`);
    await appendAuditWithin(trx, store.dialect, { actor, action: 'hold.release', target: { type: r.target_type, id: r.target_id }, detail: { holdId: id, reason: r.reason } });
    return toHold(r);
  });
}

export async function listHolds(db: Kysely<Database>, opts: { includeReleased?: boolean } = {}): Promise<LegalHold[]> {
  let q = db.selectFrom('legal_hold').selectAll().orderBy('placed_at', 'desc');
  if (!opts.includeReleased) q = q.where('released_at', 'is', null);
  return (await q.execute()).map(toHold);
}

// ---- purge ----

export interface PurgeOptions {
  actor: AuditActor;
  dryRun?: boolean;
  now?: number;
  /** checked between batches: a server shutting down stops after the batch in progress */
  signal?: AbortSignal;
}

export interface PolicyCount {
  policyId: string;
  name: string;
  keepDays: number;
  conversations: number;
  messages: number;
}

export interface PurgeReport {
  dryRun: boolean;
  /** the purge run's time, stamped into purged_at of every message it emptied and into its audit events */
  runAt: number;
  conversations: number;
  messages: number;
  /** expired conversations left alone because a legal hold covers them or their customer */
  held: number;
  byPolicy: PolicyCount[];
}

interface Candidate {
  id: string;
  customerId: string;
  lastSeq: number;
  policy: RetentionPolicy;
}

const ENDED_STATES = ['resolved', 'closed'] as const;

/**
 * Empties the content of every expired conversation: resolved or closed, and its last activity (last message or
 * resolution, whichever is later) older than its governing policy's keep days. Seq, hash, sender and time stay, so the
 * chain still verifies; the search index entries go. Conversations under a legal hold — on themselves or on their
 * customer — are never touched. Each batch commits together with an audit event naming its conversations and counts.
 */
export async function purgeExpired(store: StoreLike, opts: PurgeOptions): Promise<PurgeReport> {
  const now = opts.now ?? Date.now();
  const runAt = now;
  const dryRun = opts.dryRun === true;
  const report: PurgeReport = { dryRun, runAt, conversations: 0, messages: 0, held: 0, byPolicy: [] };
  const policies = await listPolicies(store.db);
  if (policies.length === 0) return report;
  const counts = new Map<string, PolicyCount>(policies.map((p) => [p.id, { policyId: p.id, name: p.name, keepDays: p.keepDays, conversations: 0, messages: 0 }]));
  const earliestCutoff = now - Math.min(...policies.map((p) => p.keepDays)) * DAY_MS;

  let after = '';
  for (;;) {
    if (opts.signal?.aborted) break;
    const rows = await store.db
      .selectFrom('conversation')
      .select(['id', 'customer_id', 'channel', 'group_id', 'last_seq', 'last_message_at', 'resolved_at'])
      .where('state', 'in', ENDED_STATES)
      .where('last_message_at', '<', earliestCutoff)
      .where((eb) => eb('last_seq', '>', eb.ref('purged_through_seq')))
      .where('id', '>', after)
      .orderBy('id')
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;

    const ids = rows.map((r) => r.id);
    const tagRows = await store.db.selectFrom('conversation_tag').select(['conversation_id', 'tag']).where('conversation_id', 'in', ids).execute();
    const tags = new Map<string, string[]>();
    for (const t of tagRows) tags.set(t.conversation_id, [...(tags.get(t.conversation_id) ?? []), t.tag]);
    const held = await heldConversations(store.db, rows.map((r) => ({ id: r.id, customerId: r.customer_id })));

    const due: Candidate[] = [];
    for (const r of rows) {
      const policy = governingPolicy(policies, { channel: r.channel, groupId: r.group_id, tags: tags.get(r.id) ?? [] });
      if (!policy) continue;
      const lastActivity = Math.max(Number(r.last_message_at), r.resolved_at === null ? 0 : Number(r.resolved_at));
      if (lastActivity >= now - policy.keepDays * DAY_MS) continue;
      if (held.has(r.id)) {
        report.held++;
        continue;
      }
      due.push({ id: r.id, customerId: r.customer_id, lastSeq: Number(r.last_seq), policy });
    }
    if (due.length === 0) continue;

    const done = dryRun ? await countPurgeable(store.db, due) : await purgeBatch(store, due, runAt, opts.actor);
    for (const c of due) {
      const n = done.get(c.id);
      if (n === undefined) continue;
      report.conversations++;
      report.messages += n;
      const pc = counts.get(c.policy.id)!;
      pc.conversations++;
      pc.messages += n;
    }
  }
  report.byPolicy = [...counts.values()].filter((c) => c.conversations > 0);
  return report;
}

/** Which of these conversations an unreleased legal hold covers, directly or through their customer. */
async function heldConversations(db: Kysely<Database>, convs: Array<{ id: string; customerId: string }>): Promise<Set<string>> {
  const holds = await db
    .selectFrom('legal_hold')
    .select(['target_type', 'target_id'])
    .where('released_at', 'is', null)
    .where((eb) =>
      eb.or([
        eb.and([eb('target_type', '=', 'conversation'), eb('target_id', 'in', convs.map((c) => c.id))]),
        eb.and([eb('target_type', '=', 'customer'), eb('target_id', 'in', [...new Set(convs.map((c) => c.customerId))])]),
      ]),
    )
    .execute();
  const onConversation = new Set(holds.filter((h) => h.target_type === 'conversation').map((h) => h.target_id));
  const onCustomer = new Set(holds.filter((h) => h.target_type === 'customer').map((h) => h.target_id));
  return new Set(convs.filter((c) => onConversation.has(c.id) || onCustomer.has(c.customerId)).map((c) => c.id));
}

async function countPurgeable(db: Kysely<Database>, due: Candidate[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of due) {
    const r = await db.selectFrom('message').select((eb) => eb.fn.countAll<number>().as('n')).where('conversation_id', '=', c.id).where('seq', '<=', c.lastSeq).where('purged_at', 'is', null).executeTakeFirstOrThrow();
    out.set(c.id, Number(r.n));
  }
  return out;
}

/**
 * One transaction: for each conversation, first claim it (the conversation row still ended, unchanged since it was
 * read, and not held — in PostgreSQL this also locks it against a concurrent append), then empty its messages, then
 * drop their index entries; finally the audit event. Starting with a write keeps SQLite from failing the
 * transaction on a snapshot that another process changed meanwhile.
 */
async function purgeBatch(store: StoreLike, due: Candidate[], runAt: number, actor: AuditActor): Promise<Map<string, number>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.db.transaction().execute(async (trx) => {
        const purged = new Map<string, number>();
        const policies: Record<string, { name: string; keepDays: number; conversations: number; messages: number }> = {};
        for (const c of due) {
          const claim = await trx
            .updateTable('conversation')
            .set({ purged_through_seq: c.lastSeq })
            .where('id', '=', c.id)
            .where('last_seq', '=', c.lastSeq)
            .where('purged_through_seq', '<', c.lastSeq)
            .where('state', 'in', ENDED_STATES)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('legal_hold')
                    .select(sql`1`.as('one'))
                    .where('released_at', 'is', null)
                    .where((h) => h.or([h.and([h('target_type', '=', 'conversation'), h('target_id', '=', c.id)]), h.and([h('target_type', '=', 'customer'), h('target_id', '=', c.customerId)])])),
                ),
              ),
            )
            .executeTakeFirst();
          if (Number(claim.numUpdatedRows) === 0) continue;
          const emptied = await trx
            .updateTable('message')
            .set({ body: '', purged_at: runAt })
            .where('conversation_id', '=', c.id)
            .where('seq', '<=', c.lastSeq)
            .where('purged_at', 'is', null)
            .returning('id')
            .execute();
          if (emptied.length === 0) continue;
          await deleteSearchDocs(trx, store.dialect, emptied.map((m) => m.id));
          purged.set(c.id, emptied.length);
          const p = (policies[c.policy.id] ??= { name: c.policy.name, keepDays: c.policy.keepDays, conversations: 0, messages: 0 });
          p.conversations++;
          p.messages += emptied.length;
        }
        if (purged.size > 0) {
          const messages = [...purged.values()].reduce((a, b) => a + b, 0);
          // conversation → messages emptied: what verifyPurgeRecords checks every tombstone against
          await appendAuditWithin(trx, store.dialect, {
            actor,
            action: 'retention.purge',
            detail: { runAt, messages, conversations: Object.fromEntries(purged), policies },
          });
        }
        return purged;
      });
    } catch (err) {
      if (attempt >= 5 || !/SQLITE_BUSY/.test(String((err as { code?: string }).code ?? err))) throw err;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

// ---- proof that every tombstone comes from an audited purge ----

export interface PurgeRecordBreak {
  conversationId: string;
  seq: number;
  reason: string;
}

/**
 * The append-only triggers let exactly one change through: emptying a message and stamping purged_at. Anyone with
 * database access could use that path to blank a message, and the chain would still verify (a purged message is
 * trusted by its stored hash). So every tombstone must be accounted for by the audit trail, which is itself chained:
 * for each purge time and conversation, the number of messages carrying that purge time must equal the number the
 * retention.purge event of that run recorded for the conversation.
 */
export async function verifyPurgeRecords(db: Kysely<Database>): Promise<{ runs: number; messages: number; broken: PurgeRecordBreak | null }> {
  // purge time → conversation → messages, as the audit trail recorded them
  const audited = new Map<number, Map<string, number>>();
  let lastId = 0;
  for (;;) {
    const events = await db.selectFrom('audit_event').select(['id', 'detail']).where('action', '=', 'retention.purge').where('id', '>', lastId).orderBy('id').limit(1000).execute();
    if (events.length === 0) break;
    for (const e of events) {
      lastId = Number(e.id);
      const d = JSON.parse(e.detail) as { runAt?: number; conversations?: Record<string, number> };
      if (typeof d.runAt !== 'number' || !d.conversations) continue;
      const run = audited.get(d.runAt) ?? new Map<string, number>();
      for (const [c, n] of Object.entries(d.conversations)) run.set(c, (run.get(c) ?? 0) + Number(n));
      audited.set(d.runAt, run);
    }
  }
  const times = await db.selectFrom('message').select('purged_at').distinct().where('purged_at', 'is not', null).orderBy('purged_at').execute();
  let messages = 0;
  for (const t of times) {
    const at = Number(t.purged_at);
    const run = audited.get(at);
    const stamped = await db
      .selectFrom('message')
      .select(['conversation_id', (eb) => eb.fn.min('seq').as('first_seq'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('purged_at', '=', at)
      .groupBy('conversation_id')
      .orderBy('conversation_id')
      .execute();
    for (const s of stamped) {
      const n = Number(s.n);
      const recorded = run?.get(s.conversation_id);
      if (recorded !== n) {
        const seq = Number(s.first_seq);
        const when = new Date(at).toISOString();
        const reason =
          recorded === undefined
            ? `message seq ${seq} was emptied (purge time ${when}) but no audited retention purge covers it: its content was removed outside kefu`
            : `${n} messages of this conversation carry the purge time ${when} but the audit trail records ${recorded}: content was removed outside kefu`;
        return { runs: audited.size, messages, broken: { conversationId: s.conversation_id, seq, reason } };
      }
      messages += n;
    }
  }
  return { runs: audited.size, messages, broken: null };
}
