import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { newId, type Database, type DialectName, type GrantScopeKind } from '../store/index.ts';
import { SearchError, engineQueryFor, filteredMessages, searchParamsSchema } from '../archive/search.ts';
import type { AuditActor, AuditLog } from './audit.ts';
import { grantApproverRoles, mayDecide, mayDecideOn } from './policies/grants.ts';

/**
 * Access grants (申请-审批): a member of staff asks to read a scope (a customer, a set of conversations, or what a
 * search finds) for a reason and a time; an approver approves or denies. Approval fixes the covered conversations
 * (access_grant_conversation) and the expiry; the read policy (policies/conversations.ts) honours a grant while it is
 * approved and unexpired. docs/SECURITY.md, "Access grants", states the rules for readers outside the code.
 */

export const MIN_REASON_LENGTH = 5;
export const MIN_DURATION_HOURS = 1;
export const MAX_DURATION_HOURS = 30 * 24;
/** A grant covering more conversations than this is refused as too broad: ask for a narrower scope. */
export const MAX_GRANT_CONVERSATIONS = 1000;
export const MAX_CONVERSATIONS_PER_REQUEST = 100;

const HOUR_MS = 3_600_000;

/** The filters of a search-query grant: those of the archive search, without paging and sort. */
export const grantQuerySchema = searchParamsSchema.pick({ q: true, from: true, to: true, customer: true, agent: true, group: true, channel: true, tag: true, conversation: true });
export type GrantQuery = z.infer<typeof grantQuerySchema>;

const reason = z.string().trim().min(MIN_REASON_LENGTH, `the reason must have at least ${MIN_REASON_LENGTH} characters`).max(1000);
const durationHours = z
  .number()
  .int('the duration is a whole number of hours')
  .min(MIN_DURATION_HOURS, `the duration is at least ${MIN_DURATION_HOURS} hour`)
  .max(MAX_DURATION_HOURS, `the duration is at most ${MAX_DURATION_HOURS} hours (30 days)`);
const id = z.string().trim().min(1).max(100);
/** the grant also lets its holder ask for the unmasked text of what it covers */
const unmask = z.boolean().optional();

export const grantRequestSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('customer'), customerId: id, reason, durationHours, unmask }).strict(),
  z.object({ kind: z.literal('conversations'), conversationIds: z.array(id).min(1, 'name at least one conversation').max(MAX_CONVERSATIONS_PER_REQUEST), reason, durationHours, unmask }).strict(),
  z.object({ kind: z.literal('query'), query: grantQuerySchema, reason, durationHours, unmask }).strict(),
]);
export type GrantRequest = z.infer<typeof grantRequestSchema>;

export type GrantScope = { kind: 'customer'; customerId: string } | { kind: 'conversations'; conversationIds: string[] } | { kind: 'query'; query: GrantQuery };

/** "expired" is derived: an approved grant past its expiry. */
export type GrantStateView = 'requested' | 'approved' | 'denied' | 'expired' | 'revoked';

export interface Grant {
  id: string;
  requester: { id: string; login: string };
  scope: GrantScope;
  reason: string;
  durationHours: number;
  state: GrantStateView;
  requestedAt: string;
  approver: { id: string | null; login: string } | null;
  decidedAt: string | null;
  decisionNote: string | null;
  expiresAt: string | null;
  /** how many conversations the grant covers, fixed at approval */
  conversations: number | null;
  revokedAt: string | null;
  revokedBy: string | null;
  /** whether the grant also allows unmasking (explicit, audited as unmask) */
  unmask: boolean;
}

export type GrantErrorCode = 'not_found' | 'invalid' | 'forbidden' | 'self_approval' | 'not_pending' | 'not_active' | 'too_broad';

export class GrantError extends Error {
  constructor(public readonly code: GrantErrorCode, message: string) {
    super(message);
  }
}

export interface GrantDeps {
  db: Kysely<Database>;
  dialect: DialectName;
  audit: AuditLog;
}

/** Where a decision comes from: a member of staff, or the local operator (id null). */
export type GrantActor = AuditActor;

interface Context {
  ip?: string | null;
  /** the clock, for tests: decisions and expiries are computed from it */
  now?: number;
}

type Row = Selectable<Database['access_grant']>;

const iso = (t: number | null) => (t === null ? null : new Date(Number(t)).toISOString());

export function presentGrant(r: Row, now = Date.now()): Grant {
  const expiresAt = r.expires_at === null ? null : Number(r.expires_at);
  const expired = r.state === 'approved' && expiresAt !== null && expiresAt <= now;
  return {
    id: r.id,
    requester: { id: r.requester_id, login: r.requester_login },
    scope: { kind: r.scope_kind, ...JSON.parse(r.scope) } as GrantScope,
    reason: r.reason,
    durationHours: Math.round(Number(r.duration_ms) / HOUR_MS),
    state: expired ? 'expired' : r.state,
    requestedAt: iso(r.requested_at)!,
    approver: r.approver_login === null ? null : { id: r.approver_id, login: r.approver_login },
    decidedAt: iso(r.decided_at),
    decisionNote: r.decision_note,
    expiresAt: iso(expiresAt),
    conversations: r.covered_count === null ? null : Number(r.covered_count),
    revokedAt: iso(r.revoked_at),
    revokedBy: r.revoked_by,
    unmask: Number(r.unmask) === 1,
  };
}

/** Checks that what a request names exists, and stores it by internal ids. */
async function resolveScope(db: Kysely<Database>, dialect: DialectName, input: GrantRequest): Promise<GrantScope> {
  switch (input.kind) {
    case 'customer': {
      const c = await db
        .selectFrom('customer')
        .select('id')
        .where((eb) => eb.or([eb('id', '=', input.customerId), eb('external_id', '=', input.customerId)]))
        .executeTakeFirst();
      if (!c) throw new GrantError('invalid', `no customer with id or external id "${input.customerId}"`);
      return { kind: 'customer', customerId: c.id };
    }
    case 'conversations': {
      const wanted = [...new Set(input.conversationIds)];
      const rows = await db
        .selectFrom('conversation')
        .select(['id', 'external_id'])
        .where((eb) => eb.or([eb('id', 'in', wanted), eb('external_id', 'in', wanted)]))
        .execute();
      const unknown = wanted.filter((w) => !rows.some((r) => r.id === w || r.external_id === w));
      if (unknown.length > 0) throw new GrantError('invalid', `no conversation with id ${unknown.map((u) => `"${u}"`).join(', ')}`);
      return { kind: 'conversations', conversationIds: [...new Set(rows.map((r) => r.id))].sort() };
    }
    case 'query': {
      const { q, ...filters } = input.query;
      const hasFilter = Object.values(filters).some((v) => v !== undefined && v !== '');
      if (!q.trim() && !hasFilter) throw new GrantError('invalid', 'a query grant needs search words or at least one filter; a grant for everything is not possible');
      if (q.trim() && engineQueryFor(dialect, q) === null) throw new GrantError('invalid', 'the search words have nothing searchable in them');
      const query = Object.fromEntries(Object.entries(input.query).filter(([, v]) => v !== undefined && v !== '')) as GrantQuery;
      return { kind: 'query', query: { ...query, q } };
    }
  }
}

/**
 * The conversations a scope covers now, at most MAX_GRANT_CONVERSATIONS + 1 (one more tells "too broad"). A query
 * covers the conversations with at least one message the same search finds (archive/search.ts filteredMessages).
 */
export async function coveredConversations(db: Kysely<Database>, dialect: DialectName, scope: GrantScope): Promise<string[]> {
  const cap = MAX_GRANT_CONVERSATIONS + 1;
  switch (scope.kind) {
    case 'customer':
      return (await db.selectFrom('conversation').select('id').where('customer_id', '=', scope.customerId).orderBy('id').limit(cap).execute()).map((r) => r.id);
    case 'conversations':
      return (await db.selectFrom('conversation').select('id').where('id', 'in', scope.conversationIds).orderBy('id').execute()).map((r) => r.id);
    case 'query': {
      const q = scope.query.q ?? '';
      try {
        const base = await filteredMessages(db, dialect, { ...scope.query, q }, q.trim() ? engineQueryFor(dialect, q) : null, 'all');
        return (await base.select('c.id as id').distinct().orderBy('c.id').limit(cap).execute()).map((r) => r.id);
      } catch (err) {
        if (err instanceof SearchError) throw new GrantError('invalid', err.message);
        throw err;
      }
    }
  }
}

function tooBroad(n: number): GrantError {
  return new GrantError('too_broad', `this scope covers more than ${MAX_GRANT_CONVERSATIONS} conversations; ask for a narrower one (more words, a shorter time range, a customer)`);
}

/** A member of staff asks for access. Audited as grant.request. */
export async function requestGrant(deps: GrantDeps, requester: { id: string; login: string; role: string }, input: GrantRequest, ctx: Context = {}): Promise<Grant> {
  const { db, dialect, audit } = deps;
  const scope = await resolveScope(db, dialect, input);
  const covered = await coveredConversations(db, dialect, scope);
  if (covered.length > MAX_GRANT_CONVERSATIONS) throw tooBroad(covered.length);
  const { kind, ...scopeFields } = scope;
  const row: Row = {
    id: newId('grt'),
    requester_id: requester.id,
    requester_login: requester.login,
    scope_kind: kind as GrantScopeKind,
    scope: JSON.stringify(scopeFields),
    reason: input.reason,
    duration_ms: input.durationHours * HOUR_MS,
    state: 'requested',
    requested_at: ctx.now ?? Date.now(),
    approver_id: null,
    approver_login: null,
    decided_at: null,
    decision_note: null,
    expires_at: null,
    covered_count: null,
    revoked_at: null,
    revoked_by: null,
    unmask: input.unmask ? 1 : 0,
  };
  await db.insertInto('access_grant').values(row).execute();
  await audit.record({
    actor: { id: requester.id, login: requester.login, role: requester.role },
    action: 'grant.request',
    target: { type: 'grant', id: row.id },
    ip: ctx.ip,
    detail: { scope, reason: input.reason, durationHours: input.durationHours, conversationsNow: covered.length, unmask: input.unmask === true },
  });
  return presentGrant(row);
}

async function load(db: Kysely<Database>, grantId: string): Promise<Row> {
  const r = await db.selectFrom('access_grant').selectAll().where('id', '=', grantId).executeTakeFirst();
  if (!r) throw new GrantError('not_found', `grant ${grantId} does not exist`);
  return r;
}

async function checkDecider(db: Kysely<Database>, actor: GrantActor, r: Row): Promise<void> {
  const roles = await grantApproverRoles(db);
  const may = mayDecideOn(actor, r.requester_id, roles);
  if (may === 'not_approver') throw new GrantError('forbidden', `only ${roles.join(', ')} may approve or deny access requests`);
  if (may === 'own_request') throw new GrantError('self_approval', 'nobody may decide on their own access request; another approver must');
  if (r.state !== 'requested') throw new GrantError('not_pending', `grant ${r.id} was already decided (${presentGrant(r).state})`);
}

/**
 * Approves a pending request: fixes the conversations it covers (what its scope covers at this moment) and its expiry
 * (now + the requested duration). Audited as grant.approve.
 */
export async function approveGrant(deps: GrantDeps, grantId: string, approver: GrantActor, ctx: Context & { note?: string } = {}): Promise<Grant> {
  const { db, dialect, audit } = deps;
  const now = ctx.now ?? Date.now();
  const before = await load(db, grantId);
  await checkDecider(db, approver, before);
  const scope = presentGrant(before).scope;
  const covered = await coveredConversations(db, dialect, scope);
  if (covered.length > MAX_GRANT_CONVERSATIONS) throw tooBroad(covered.length);
  const expiresAt = now + Number(before.duration_ms);
  await db.transaction().execute(async (trx) => {
    // only one decision wins when two approvers click at once
    const r = await trx
      .updateTable('access_grant')
      .set({ state: 'approved', approver_id: approver.id, approver_login: approver.login, decided_at: now, decision_note: ctx.note ?? null, expires_at: expiresAt, covered_count: covered.length })
      .where('id', '=', grantId)
      .where('state', '=', 'requested')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new GrantError('not_pending', `grant ${grantId} was decided meanwhile`);
    for (let i = 0; i < covered.length; i += 500) {
      await trx
        .insertInto('access_grant_conversation')
        .values(covered.slice(i, i + 500).map((conversationId) => ({ grant_id: grantId, conversation_id: conversationId })))
        .execute();
    }
  });
  await audit.record({
    actor: approver,
    action: 'grant.approve',
    target: { type: 'grant', id: grantId },
    ip: ctx.ip,
    detail: { requester: before.requester_login, scope, unmask: Number(before.unmask) === 1, expiresAt: new Date(expiresAt).toISOString(), conversations: covered.length, ...(ctx.note ? { note: ctx.note } : {}) },
  });
  return presentGrant(await load(db, grantId), now);
}

/** Denies a pending request with a note for the requester. Audited as grant.deny. */
export async function denyGrant(deps: GrantDeps, grantId: string, approver: GrantActor, note: string, ctx: Context = {}): Promise<Grant> {
  const { db, audit } = deps;
  const now = ctx.now ?? Date.now();
  await checkDecider(db, approver, await load(db, grantId));
  const r = await db
    .updateTable('access_grant')
    .set({ state: 'denied', approver_id: approver.id, approver_login: approver.login, decided_at: now, decision_note: note })
    .where('id', '=', grantId)
    .where('state', '=', 'requested')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw new GrantError('not_pending', `grant ${grantId} was decided meanwhile`);
  await audit.record({ actor: approver, action: 'grant.deny', target: { type: 'grant', id: grantId }, ip: ctx.ip, detail: { note } });
  return presentGrant(await load(db, grantId), now);
}

/**
 * Ends a grant before its expiry, or withdraws a request not yet decided: by its requester, or by an approver.
 * Audited as grant.revoke.
 */
export async function revokeGrant(deps: GrantDeps, grantId: string, actor: GrantActor, ctx: Context & { note?: string } = {}): Promise<Grant> {
  const { db, audit } = deps;
  const now = ctx.now ?? Date.now();
  const before = await load(db, grantId);
  if (actor.id !== before.requester_id && !mayDecide(actor, await grantApproverRoles(db))) throw new GrantError('not_found', `grant ${grantId} does not exist`);
  const state = presentGrant(before, now).state;
  if (state !== 'requested' && state !== 'approved') throw new GrantError('not_active', `grant ${grantId} is ${state}; only a pending or valid grant can be revoked`);
  const r = await db
    .updateTable('access_grant')
    .set({ state: 'revoked', revoked_at: now, revoked_by: actor.login })
    .where('id', '=', grantId)
    .where('state', '=', before.state)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw new GrantError('not_active', `grant ${grantId} changed meanwhile`);
  await audit.record({ actor, action: 'grant.revoke', target: { type: 'grant', id: grantId }, ip: ctx.ip, detail: { was: state, requester: before.requester_login, ...(ctx.note ? { note: ctx.note } : {}) } });
  return presentGrant(await load(db, grantId), now);
}

export async function getGrant(db: Kysely<Database>, grantId: string): Promise<Grant | undefined> {
  const r = await db.selectFrom('access_grant').selectAll().where('id', '=', grantId).executeTakeFirst();
  return r && presentGrant(r);
}

export interface GrantFilter {
  /** only this requester's grants */
  requesterId?: string;
  /** only requests awaiting a decision */
  pending?: boolean;
  limit?: number;
}

/** Grants, newest request first. */
export async function listGrants(db: Kysely<Database>, f: GrantFilter = {}): Promise<Grant[]> {
  let q = db.selectFrom('access_grant').selectAll().orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(Math.min(f.limit ?? 200, 1000));
  if (f.requesterId) q = q.where('requester_id', '=', f.requesterId);
  if (f.pending) q = q.where('state', '=', 'requested');
  const now = Date.now();
  return (await q.execute()).map((r) => presentGrant(r, now));
}

/** How many conversations a pending request would cover if approved now: for the approver's decision. */
export async function previewCoverage(db: Kysely<Database>, dialect: DialectName, grant: Grant): Promise<{ conversations: number; tooBroad: boolean }> {
  const covered = await coveredConversations(db, dialect, grant.scope).catch(() => []);
  return { conversations: Math.min(covered.length, MAX_GRANT_CONVERSATIONS), tooBroad: covered.length > MAX_GRANT_CONVERSATIONS };
}
