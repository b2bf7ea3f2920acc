import { createHash } from 'node:crypto';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, DialectName } from '../store/index.ts';
import { GENESIS_HASH } from '../conversations/chain.ts';

/** What is audited. Reads of content and every change of who may read what. */
export type AuditAction =
  | 'login'
  | 'login_failed'
  | 'logout'
  | 'auth.lockout'
  | 'auth.2fa_enrol'
  | 'auth.2fa_disable'
  | 'auth.2fa_reset'
  | 'auth.2fa_recovery_codes'
  | 'auth.password_change'
  | 'auth.session_revoke'
  | 'user.disable'
  | 'user.enable'
  | 'user.unlock'
  | 'view'
  | 'view.refused'
  | 'search'
  | 'export'
  | 'unmask'
  | 'user.create'
  | 'role.change'
  | 'config.change'
  | 'grant.request'
  | 'grant.approve'
  | 'grant.deny'
  | 'grant.revoke'
  | 'backup.create'
  | 'backup.restore'
  | 'retention.purge'
  | 'retention.policy_add'
  | 'retention.policy_remove'
  | 'hold.place'
  | 'hold.release';

export interface AuditActor {
  id: string | null;
  login: string;
  role: string | null;
}

/** The operator at the server's own console (CLI commands): audited under this login. */
export const LOCAL_OPERATOR: AuditActor = { id: null, login: 'local-operator', role: 'operator' };

export interface AuditInput {
  actor: AuditActor;
  action: AuditAction;
  target?: { type: string; id: string } | null;
  query?: Record<string, unknown> | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
  at?: number;
}

type Row = Selectable<Database['audit_event']>;

/** The bytes an audit event's hash covers; the field order is fixed for ever. */
export function canonicalAudit(r: Omit<Row, 'id' | 'hash'>): string {
  return JSON.stringify([Number(r.at), r.actor_id, r.actor_login, r.actor_role, r.action, r.target_type, r.target_id, r.query, r.ip, r.detail]);
}

export function auditHash(prev: string, r: Omit<Row, 'id' | 'hash'>): string {
  return createHash('sha256').update(prev).update('\n').update(canonicalAudit(r)).digest('hex');
}

/**
 * Appends one event inside the caller's transaction, so it commits together with the change it records
 * (the retention purge writes each batch and its audit event atomically).
 */
export async function appendAuditWithin(trx: Transaction<Database>, dialect: DialectName, e: AuditInput): Promise<void> {
  const row: Omit<Row, 'id' | 'hash'> = {
    at: e.at ?? Date.now(),
    actor_id: e.actor.id,
    actor_login: e.actor.login,
    actor_role: e.actor.role,
    action: e.action,
    target_type: e.target?.type ?? null,
    target_id: e.target?.id ?? null,
    query: e.query ? JSON.stringify(e.query) : null,
    ip: e.ip ?? null,
    detail: JSON.stringify(e.detail ?? {}),
  };
  // one writer at a time extends the chain (PostgreSQL: a transaction-scoped advisory lock)
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(424242)`.execute(trx);
  const head = await trx.selectFrom('audit_event').select('hash').orderBy('id', 'desc').limit(1).executeTakeFirst();
  await trx.insertInto('audit_event').values({ ...row, hash: auditHash(head?.hash ?? GENESIS_HASH, row) }).execute();
}

/** The audit trail: append-only, each event chained to the one before it. */
export class AuditLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  async record(e: AuditInput): Promise<void> {
    // SQLite: the server and a CLI process may both write; a busy snapshot is retried
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.transaction().execute((trx) => appendAuditWithin(trx, this.dialect, e));
        return;
      } catch (err) {
        if (attempt >= 5 || !/SQLITE_BUSY/.test(String((err as { code?: string }).code ?? err))) throw err;
        await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
      }
    }
  }
}

export interface AuditFilter {
  from?: number;
  to?: number;
  actor?: string;
  action?: string;
  limit?: number;
  beforeId?: number;
}

export interface AuditEventView {
  id: number;
  at: string;
  actor: AuditActor;
  action: string;
  target: { type: string; id: string } | null;
  query: unknown;
  ip: string | null;
  detail: unknown;
  hash: string;
}

export function presentAudit(r: Row): AuditEventView {
  return {
    id: Number(r.id),
    at: new Date(Number(r.at)).toISOString(),
    actor: { id: r.actor_id, login: r.actor_login, role: r.actor_role },
    action: r.action,
    target: r.target_type && r.target_id ? { type: r.target_type, id: r.target_id } : null,
    query: r.query ? JSON.parse(r.query) : null,
    ip: r.ip,
    detail: JSON.parse(r.detail),
    hash: r.hash,
  };
}

/** Audit events, newest first. */
export async function listAudit(db: Kysely<Database>, f: AuditFilter): Promise<AuditEventView[]> {
  let q = db.selectFrom('audit_event').selectAll().orderBy('id', 'desc').limit(Math.min(f.limit ?? 100, 10_000));
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (f.actor) q = q.where('actor_login', '=', f.actor);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.beforeId !== undefined) q = q.where('id', '<', f.beforeId);
  return (await q.execute()).map(presentAudit);
}

export interface ChainBreak {
  id: number;
  reason: string;
}

/** Recomputes the audit chain in id order; the first event whose hash does not follow is reported. */
export async function verifyAuditChain(db: Kysely<Database>): Promise<{ checked: number; broken: ChainBreak | null }> {
  let prev = GENESIS_HASH;
  let checked = 0;
  let lastId = 0;
  for (;;) {
    const rows = await db.selectFrom('audit_event').selectAll().where('id', '>', lastId).orderBy('id').limit(5000).execute();
    if (rows.length === 0) return { checked, broken: null };
    for (const r of rows) {
      const { id: _id, hash, ...fields } = r;
      const expected = auditHash(prev, fields);
      if (hash !== expected) return { checked, broken: { id: Number(r.id), reason: `audit event ${r.id} (${r.action} by ${r.actor_login}) does not match its hash: changed, inserted, or an earlier event was removed` } };
      prev = hash;
      checked++;
      lastId = Number(r.id);
    }
  }
}
