import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { inChunks, newId, type Database } from '../store/index.ts';
import { maskPii } from '../governance/masking.ts';

export interface Customer {
  id: string;
  externalId: string | null;
  name: string;
  phone: string | null;
  email: string | null;
  vipLevel: number;
  attributes: Record<string, unknown>;
  createdAt: number;
}

function toCustomer(r: Database['customer']): Customer {
  return {
    id: r.id,
    externalId: r.external_id,
    name: r.name,
    phone: r.phone,
    email: r.email,
    vipLevel: Number(r.vip_level),
    attributes: JSON.parse(r.attributes) as Record<string, unknown>,
    createdAt: Number(r.created_at),
  };
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A visitor token is 32 random bytes; only its hash is stored, so a database dump cannot impersonate visitors. */
export function newVisitorToken(): string {
  return randomBytes(32).toString('base64url');
}

export function isWellFormedVisitorToken(t: unknown): t is string {
  return typeof t === 'string' && TOKEN_PATTERN.test(t);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function findVisitor(db: Kysely<Database>, visitorToken: string): Promise<Customer | undefined> {
  const r = await db.selectFrom('customer').selectAll().where('visitor_token_hash', '=', hashToken(visitorToken)).executeTakeFirst();
  return r && toCustomer(r);
}

/** The customer behind a visitor token, created on the visitor's first message. */
export async function findOrCreateVisitor(db: Kysely<Database>, visitorToken: string): Promise<Customer> {
  const found = await findVisitor(db, visitorToken);
  if (found) return found;
  const id = newId('cus');
  const row: Database['customer'] = {
    id,
    external_id: null,
    visitor_token_hash: hashToken(visitorToken),
    name: `访客 ${id.slice(-6).toUpperCase()}`,
    phone: null,
    email: null,
    vip_level: 0,
    attributes: '{}',
    created_at: Date.now(),
  };
  try {
    await db.insertInto('customer').values(row).execute();
  } catch (err) {
    const raced = await findVisitor(db, visitorToken);
    if (raced) return raced;
    throw err;
  }
  return toCustomer(row);
}

export interface NewCustomer {
  externalId?: string | null;
  name: string;
  phone?: string | null;
  email?: string | null;
  vipLevel?: number;
  attributes?: Record<string, unknown>;
}

export async function createCustomer(db: Kysely<Database>, c: NewCustomer): Promise<Customer> {
  const row: Database['customer'] = {
    id: newId('cus'),
    external_id: c.externalId ?? null,
    visitor_token_hash: null,
    name: c.name,
    phone: c.phone ?? null,
    email: c.email ?? null,
    vip_level: c.vipLevel ?? 0,
    attributes: JSON.stringify(c.attributes ?? {}),
    created_at: Date.now(),
  };
  await db.insertInto('customer').values(row).execute();
  return toCustomer(row);
}

export async function getCustomer(db: Kysely<Database>, id: string): Promise<Customer | undefined> {
  const r = await db.selectFrom('customer').selectAll().where('id', '=', id).executeTakeFirst();
  return r && toCustomer(r);
}

/** A customer as staff see it: contact details and every value in the attributes masked like message text. */
export function presentCustomerForStaff(c: Customer): Customer {
  const mask = (v: string | null) => (v === null ? null : maskPii(v).text);
  return { ...c, name: maskPii(c.name).text, phone: mask(c.phone), email: mask(c.email), attributes: maskAttributes(c.attributes) };
}

/**
 * Attributes are whatever the host system stores (备用电话, 身份证, 地址…), so every string in them, at any depth, is
 * masked; a number too when its digits are personal data (a phone stored as a JSON number). Keys are labels and stay.
 */
export function maskAttributes(attributes: Record<string, unknown>): Record<string, unknown> {
  return maskValue(attributes) as Record<string, unknown>;
}

function maskValue(v: unknown): unknown {
  if (typeof v === 'string') return maskPii(v).text;
  if (typeof v === 'number') {
    const written = String(v);
    const masked = maskPii(written).text;
    return masked === written ? v : masked;
  }
  if (Array.isArray(v)) return v.map(maskValue);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskValue(x)]));
  return v;
}

/** a field of the customer that masking can change: a contact detail, or `attributes.<key>` for an attribute */
export type CustomerPiiField = 'name' | 'phone' | 'email' | `attributes.${string}`;

/** The fields presentCustomerForStaff masks, as written: what 显示原文 shows of the customer. */
export interface CustomerOriginal {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  attributes: Record<string, unknown>;
  /** the fields whose masked form differs (held personal data), for the audit trail */
  pii: CustomerPiiField[];
}

export function customerOriginal(c: Customer): CustomerOriginal {
  const masked = presentCustomerForStaff(c);
  const pii: CustomerPiiField[] = (['name', 'phone', 'email'] as const).filter((f) => masked[f] !== c[f]);
  for (const [k, v] of Object.entries(c.attributes)) if (JSON.stringify(masked.attributes[k]) !== JSON.stringify(v)) pii.push(`attributes.${k}`);
  return { id: c.id, name: c.name, phone: c.phone, email: c.email, attributes: c.attributes, pii };
}

/** external_id → customer id, for the external ids that exist */
export async function customersByExternalId(db: Kysely<Database>, externalIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await inChunks(externalIds, (chunk) => db.selectFrom('customer').select(['id', 'external_id']).where('external_id', 'in', chunk).execute());
  return new Map(rows.map((r) => [r.external_id!, r.id]));
}
