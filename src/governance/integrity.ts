import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, DialectName } from '../store/index.ts';
import { GENESIS_HASH, chainHash } from '../conversations/chain.ts';
import type { AuditActor, AuditLog } from './audit.ts';

export interface MessageChainBreak {
  conversationId: string;
  seq: number;
  reason: string;
}

export interface ChainReport {
  conversations: number;
  messages: number;
  /** of those messages, how many are retention tombstones (content purged, hash kept) */
  purged: number;
  broken: MessageChainBreak | null;
}

/**
 * Recomputes every conversation's message chain: seq must run 1, 2, 3… without gaps, each hash must follow from the
 * previous hash and the message's own fields, and the conversation's recorded head (last seq and hash) must be the
 * chain's end — so a changed, removed, reordered or inserted message is found even when triggers were dropped.
 */
export async function verifyMessageChains(db: Kysely<Database>, onProgress?: (conversations: number) => void): Promise<ChainReport> {
  let conversations = 0;
  let messages = 0;
  let purged = 0;
  let after = '';
  for (;;) {
    const heads = await db.selectFrom('conversation').select(['id', 'last_seq', 'last_hash']).where('id', '>', after).orderBy('id').limit(500).execute();
    if (heads.length === 0) return { conversations, messages, purged, broken: null };
    for (const head of heads) {
      after = head.id;
      const rows = await db.selectFrom('message').selectAll().where('conversation_id', '=', head.id).orderBy('seq').execute();
      let prev = GENESIS_HASH;
      let expectedSeq = 1;
      for (const m of rows) {
        const seq = Number(m.seq);
        if (seq !== expectedSeq) {
          return { conversations, messages, purged, broken: { conversationId: head.id, seq: expectedSeq, reason: seq > expectedSeq ? `message seq ${expectedSeq} is missing (next stored is ${seq})` : `seq ${seq} appears out of order` } };
        }
        if (m.purged_at != null) {
          // Retention emptied this message: its own content can no longer be checked, by design. Its stored hash is the
          // chain link, so the next message (or the recorded head) must still follow from it; that the purge really
          // happened is proven by the audit trail (verifyPurgeRecords in retention.ts).
          if (m.body !== '') return { conversations, messages, purged, broken: { conversationId: head.id, seq, reason: `message seq ${seq} is marked as purged but still has content: it was changed` } };
          prev = m.hash;
          purged++;
        } else {
          const h = chainHash(prev, { conversationId: m.conversation_id, seq, senderKind: m.sender_kind, senderId: m.sender_id, type: m.type, body: m.body, createdAt: Number(m.created_at) });
          if (h !== m.hash) return { conversations, messages, purged, broken: { conversationId: head.id, seq, reason: `message seq ${seq} does not match its hash: its content, sender, type or time was changed` } };
          prev = h;
        }
        expectedSeq++;
        messages++;
      }
      const lastSeq = Number(head.last_seq);
      if (rows.length !== lastSeq) {
        return { conversations, messages, purged, broken: { conversationId: head.id, seq: rows.length + 1, reason: `the conversation records ${lastSeq} messages but ${rows.length} are stored: messages after seq ${rows.length} were removed` } };
      }
      if (prev !== head.last_hash) {
        return { conversations, messages, purged, broken: { conversationId: head.id, seq: lastSeq, reason: 'the chain does not end at the conversation’s recorded head hash' } };
      }
      conversations++;
    }
    onProgress?.(conversations);
  }
}

// ---- checkpoints: the chain heads pinned at a moment, so a rewrite that recomputes every hash is still caught ----

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Merkle root over (conversation, seq, hash) leaves in conversation order; publish it to make the checkpoint external. */
export function merkleRoot(heads: Array<{ conversationId: string; seq: number; hash: string }>): string {
  let level = [...heads].sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : 0)).map((h) => sha256(JSON.stringify([h.conversationId, h.seq, h.hash])));
  if (level.length === 0) return sha256('');
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha256(level[i]! + (level[i + 1] ?? level[i]!)));
    level = next;
  }
  return level[0]!;
}

function checkpointHash(prev: string, c: { at: number; conversations: number; merkle_root: string; audit_event_id: number | null; audit_hash: string | null }): string {
  return sha256(prev + '\n' + JSON.stringify([Number(c.at), Number(c.conversations), c.merkle_root, c.audit_event_id === null ? null : Number(c.audit_event_id), c.audit_hash]));
}

export interface Checkpoint {
  id: number;
  at: string;
  conversations: number;
  merkleRoot: string;
  hash: string;
}

export interface CheckpointOptions {
  /** PostgreSQL: checkpoint writers (every node of a cluster, the CLI) take turns under an advisory lock */
  dialect?: DialectName;
  /** write nothing (and return null) when the newest checkpoint is younger than this: another node just took it */
  unlessWithinMs?: number;
}

/** Pins the head of every conversation that grew since the last checkpoint, and the audit chain's head. */
export async function createCheckpoint(db: Kysely<Database>): Promise<Checkpoint>;
export async function createCheckpoint(db: Kysely<Database>, opts: CheckpointOptions): Promise<Checkpoint | null>;
export async function createCheckpoint(db: Kysely<Database>, opts: CheckpointOptions = {}): Promise<Checkpoint | null> {
  return db.transaction().execute(async (trx) => {
    // two writers reading the same previous checkpoint would fork the checkpoint chain
    if (opts.dialect === 'postgres') await sql`select pg_advisory_xact_lock(424243)`.execute(trx);
    const prev = await trx.selectFrom('chain_checkpoint').select(['hash', 'at']).orderBy('id', 'desc').limit(1).executeTakeFirst();
    if (prev && opts.unlessWithinMs !== undefined && Date.now() - Number(prev.at) < opts.unlessWithinMs) return null;
    const grown = await trx
      .selectFrom('conversation as c')
      .select(['c.id', 'c.last_seq', 'c.last_hash'])
      .where('c.last_seq', '>', 0)
      .where((eb) => eb('c.last_seq', '>', eb.fn.coalesce(eb.selectFrom('checkpoint_head as h').select((e) => e.fn.max('h.seq').as('m')).whereRef('h.conversation_id', '=', 'c.id'), eb.lit(0))))
      .execute();
    const heads = grown.map((g) => ({ conversationId: g.id, seq: Number(g.last_seq), hash: g.last_hash }));
    const auditHead = await trx.selectFrom('audit_event').select(['id', 'hash']).orderBy('id', 'desc').limit(1).executeTakeFirst();
    const row = {
      at: Date.now(),
      conversations: heads.length,
      merkle_root: merkleRoot(heads),
      audit_event_id: auditHead ? Number(auditHead.id) : null,
      audit_hash: auditHead?.hash ?? null,
    };
    const prevHash = prev?.hash ?? GENESIS_HASH;
    const hash = checkpointHash(prevHash, row);
    const inserted = await trx.insertInto('chain_checkpoint').values({ ...row, prev_hash: prevHash, hash }).returning('id').executeTakeFirstOrThrow();
    const id = Number(inserted.id);
    for (let i = 0; i < heads.length; i += 500) {
      await trx.insertInto('checkpoint_head').values(heads.slice(i, i + 500).map((h) => ({ checkpoint_id: id, conversation_id: h.conversationId, seq: h.seq, hash: h.hash }))).execute();
    }
    return { id, at: new Date(row.at).toISOString(), conversations: heads.length, merkleRoot: row.merkle_root, hash };
  });
}

/**
 * A checkpoint as kefu checkpoint and the daily schedule of kefu serve take it: written, then audited (the audit event
 * carries the Merkle root, so the root is also in the audit chain that the next checkpoint pins).
 */
export async function recordCheckpoint(store: { db: Kysely<Database>; dialect: DialectName }, audit: AuditLog, actor: AuditActor): Promise<Checkpoint>;
export async function recordCheckpoint(store: { db: Kysely<Database>; dialect: DialectName }, audit: AuditLog, actor: AuditActor, opts: { scheduled: true; unlessWithinMs: number }): Promise<Checkpoint | null>;
export async function recordCheckpoint(store: { db: Kysely<Database>; dialect: DialectName }, audit: AuditLog, actor: AuditActor, opts?: { scheduled: true; unlessWithinMs: number }): Promise<Checkpoint | null> {
  const c = await createCheckpoint(store.db, { dialect: store.dialect, unlessWithinMs: opts?.unlessWithinMs });
  if (!c) return null;
  await audit.record({ actor, action: 'config.change', target: { type: 'checkpoint', id: String(c.id) }, detail: { merkleRoot: c.merkleRoot, conversations: c.conversations, ...(opts?.scheduled ? { scheduled: true } : {}) } });
  return c;
}

export interface CheckpointBreak {
  checkpointId: number;
  conversationId?: string;
  seq?: number;
  reason: string;
}

/** Every checkpoint must follow the one before it, match its Merkle root, and every pinned head must still be there. */
export async function verifyCheckpoints(db: Kysely<Database>): Promise<{ checked: number; broken: CheckpointBreak | null }> {
  const checkpoints = await db.selectFrom('chain_checkpoint').selectAll().orderBy('id').execute();
  let prev = GENESIS_HASH;
  for (const c of checkpoints) {
    const id = Number(c.id);
    if (c.prev_hash !== prev || checkpointHash(prev, c) !== c.hash) return { checked: id - 1, broken: { checkpointId: id, reason: `checkpoint ${id} does not follow the checkpoint before it: checkpoints were changed or removed` } };
    prev = c.hash;
    const heads = await db.selectFrom('checkpoint_head').selectAll().where('checkpoint_id', '=', id).execute();
    const pinned = heads.map((h) => ({ conversationId: h.conversation_id, seq: Number(h.seq), hash: h.hash }));
    if (pinned.length !== Number(c.conversations) || merkleRoot(pinned) !== c.merkle_root) return { checked: id - 1, broken: { checkpointId: id, reason: `the heads stored for checkpoint ${id} no longer give its Merkle root` } };
    for (let i = 0; i < pinned.length; i += 500) {
      const chunk = pinned.slice(i, i + 500);
      const rows = await db.selectFrom('message').select(['conversation_id', 'seq', 'hash']).where((eb) => eb.or(chunk.map((h) => eb.and([eb('conversation_id', '=', h.conversationId), eb('seq', '=', h.seq)])))).execute();
      const found = new Map(rows.map((r) => [`${r.conversation_id}\u0000${Number(r.seq)}`, r.hash]));
      for (const h of chunk) {
        const now = found.get(`${h.conversationId}\u0000${h.seq}`);
        if (now !== h.hash) return { checked: id - 1, broken: { checkpointId: id, conversationId: h.conversationId, seq: h.seq, reason: now === undefined ? `message seq ${h.seq} pinned by checkpoint ${id} is gone` : `message seq ${h.seq} no longer has the hash pinned by checkpoint ${id}: the conversation was rewritten` } };
      }
    }
    if (c.audit_event_id !== null) {
      const a = await db.selectFrom('audit_event').select('hash').where('id', '=', Number(c.audit_event_id)).executeTakeFirst();
      if (a?.hash !== c.audit_hash) return { checked: id - 1, broken: { checkpointId: id, reason: `audit event ${c.audit_event_id} pinned by checkpoint ${id} was changed or removed` } };
    }
  }
  return { checked: checkpoints.length, broken: null };
}
