import { MAX_TEXT_LENGTH } from '../../conversations/payloads.ts';
import type { MessageType, SenderKind } from '../../store/index.ts';

/**
 * The one shape both parsers produce, validated: a conversation with everything needed to store it. Times are
 * resolved here (given or synthesized), so a record that passes validation can be written as it is.
 */
export interface ImportRecord {
  /** the line the record starts on (JSONL: its line; CSV: its first row) */
  line: number;
  /** the source id, kept as the conversation's external_id */
  externalId: string;
  channel: string;
  customer: { externalId: string | null; name: string; phone: string | null; email: string | null };
  /** staff login named for the whole conversation */
  agent: string | null;
  startedAt: number;
  turns: ImportTurn[];
}

export interface ImportTurn {
  role: SenderKind;
  type: ImportMessageType;
  text: string;
  at: number;
  /** staff login of an agent turn: the turn's own, else the conversation's `agent` */
  agent: string | null;
}

/** A record that is skipped: where, which conversation when known, and why. */
export interface BadLine {
  line: number;
  id?: string;
  reason: string;
}

export type Parsed = { ok: true; record: ImportRecord } | { ok: false; bad: BadLine };

export const ROLES = ['customer', 'agent', 'bot', 'system'] as const satisfies readonly SenderKind[];
export const TYPES = ['text', 'image', 'voice', 'video', 'file'] as const satisfies readonly MessageType[];
export type ImportMessageType = (typeof TYPES)[number];

export const DEFAULT_CHANNEL = 'import';
/** spacing of synthesized message times */
export const TURN_GAP_MS = 30_000;
export const MAX_TURNS = 10_000;
const MAX_ID = 200;
const MAX_FIELD = 200;
const MAX_LOGIN = 64;
/** as search's channel filter */
const MAX_CHANNEL = 50;
/** times more than this after the import started are refused: they would sort above every live message */
const FUTURE_SLACK_MS = 24 * 3600_000;

/** The fields a record may have, before validation (JSONL objects as they are; CSV rows are grouped into this). */
export interface RawRecord {
  id?: unknown;
  channel?: unknown;
  customer?: unknown;
  agent?: unknown;
  startedAt?: unknown;
  turns?: unknown;
}

/** How a problem names a field: JSONL by its JSON path, CSV by its column. */
export interface FieldNames {
  field(name: string): string;
  turn(i: number): string;
  turnField(i: number, name: string): string;
}

export const JSONL_NAMES: FieldNames = {
  field: (name) => name,
  turn: (i) => `turns[${i}]`,
  turnField: (i, name) => `turns[${i}].${name}`,
};

/** The import cannot run at all (unreadable file, unknown format, bad CSV header): nothing is written. */
export class ImportError extends Error {}

export class Invalid extends Error {
  /** index of the turn at fault, so CSV can name that turn's row */
  constructor(
    message: string,
    public readonly turn?: number,
  ) {
    super(message);
  }
}

/** JSON.stringify of a value for a message, cut short: a reason must never echo a huge field back. */
export function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

const absent = (v: unknown) => v === undefined || v === null;

/**
 * PostgreSQL cannot store NUL, and a lone surrogate would be stored as U+FFFD while the hash covers the original, so
 * the chain would no longer verify: both are refused instead.
 */
// in a /u pattern a surrogate pair is one code point, so this matches only unpaired halves
const LONE_SURROGATE = /\p{Cs}/u;

function storable(s: string, field: string, turn?: number): string {
  if (s.includes('\u0000')) throw new Invalid(`${field} contains a NUL character`, turn);
  if (LONE_SURROGATE.test(s)) throw new Invalid(`${field} is not valid Unicode (lone surrogate)`, turn);
  return s;
}

function optionalString(v: unknown, field: string, max: number, turn?: number): string | null {
  if (absent(v)) return null;
  if (typeof v !== 'string') throw new Invalid(`${field} must be a string (got ${show(v)})`, turn);
  const t = storable(v, field, turn).trim();
  if (t.length > max) throw new Invalid(`${field} has more than ${max} characters`, turn);
  return t === '' ? null : t;
}

/** ids may be strings or integers (many exports number their records); both become the same string */
function idString(v: unknown, field: string): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return optionalString(v, field, MAX_ID);
}

// ISO 8601 date, optional time (T or space), optional fraction, optional offset
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Milliseconds since the epoch of an ISO 8601 time. Without an offset the time is local to the importing machine
 * (its TZ). Impossible dates (2024-02-30) are refused rather than rolled over.
 */
export function parseTime(v: string): number | null {
  const m = ISO.exec(v.trim());
  if (!m) return null;
  const [y, mo, d, h = 0, mi = 0, s = 0] = m.slice(1, 7).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h > 23 || mi > 59 || s > 59) return null;
  const offset = m[8];
  let t: number;
  if (offset === undefined) {
    const local = new Date(y!, mo! - 1, d!, h, mi, s, ms);
    if (local.getFullYear() !== y || local.getMonth() !== mo! - 1 || local.getDate() !== d) return null;
    t = local.getTime();
  } else {
    t = Date.UTC(y!, mo! - 1, d!, h, mi, s, ms);
    const check = new Date(t);
    if (check.getUTCMonth() !== mo! - 1 || check.getUTCDate() !== d) return null;
    if (offset.toUpperCase() !== 'Z') {
      const sign = offset[0] === '-' ? -1 : 1;
      const digits = offset.slice(1).replace(':', '');
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
      if (oh > 23 || om > 59) return null;
      t -= sign * (oh * 60 + om) * 60_000;
    }
  }
  return Number.isFinite(t) ? t : null;
}

function optionalTime(v: unknown, field: string, importStart: number, turn?: number): number | null {
  if (absent(v) || v === '') return null;
  const t = typeof v === 'string' ? parseTime(v) : null;
  if (t === null) throw new Invalid(`${field} is not an ISO 8601 time (got ${show(v)})`, turn);
  if (t < 0) throw new Invalid(`${field} is before 1970 (got ${show(v)})`, turn);
  if (t > importStart + FUTURE_SLACK_MS) throw new Invalid(`${field} is in the future (got ${show(v)})`, turn);
  return t;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a raw record and resolves its times. Throws Invalid with the first problem found.
 *
 * Times: a turn without `at` comes TURN_GAP_MS after the previous message (the first turn: at `startedAt`). Without
 * `startedAt` the conversation starts at its first dated turn, counted back TURN_GAP_MS per turn before it; with no
 * time at all it ends at `importStart` (its last message at importStart, earlier ones TURN_GAP_MS apart). Times must
 * not go backwards: a message is never earlier than the one before it or than the conversation's start.
 */
export function validateRecord(raw: unknown, line: number, importStart: number, names: FieldNames = JSONL_NAMES): ImportRecord {
  const f = names.field;
  if (!isObject(raw)) throw new Invalid(`a record must be a JSON object (got ${show(raw)})`);
  const externalId = idString(raw.id, f('id'));
  if (externalId === null) throw new Invalid(`${f('id')} is missing`);
  const channel = optionalString(raw.channel, f('channel'), MAX_CHANNEL) ?? DEFAULT_CHANNEL;
  const agent = optionalString(raw.agent, f('agent'), MAX_LOGIN);

  let customer: ImportRecord['customer'];
  if (absent(raw.customer)) customer = { externalId: null, name: defaultCustomerName(externalId), phone: null, email: null };
  else if (!isObject(raw.customer)) throw new Invalid(`${f('customer')} must be an object (got ${show(raw.customer)})`);
  else {
    const c = raw.customer;
    customer = {
      externalId: idString(c.externalId, f('customer.externalId')),
      name: optionalString(c.name, f('customer.name'), MAX_FIELD) ?? defaultCustomerName(externalId),
      phone: optionalString(c.phone, f('customer.phone'), MAX_FIELD),
      email: optionalString(c.email, f('customer.email'), MAX_FIELD),
    };
  }

  if (absent(raw.turns)) throw new Invalid(`${f('turns')} is missing`);
  if (!Array.isArray(raw.turns)) throw new Invalid(`${f('turns')} must be an array (got ${show(raw.turns)})`);
  if (raw.turns.length === 0) throw new Invalid(`${f('turns')} is empty`);
  if (raw.turns.length > MAX_TURNS) throw new Invalid(`${f('turns')} has more than ${MAX_TURNS} entries`);

  const given = raw.turns.map((t: unknown, i: number) => {
    const tf = (name: string) => names.turnField(i, name);
    if (!isObject(t)) throw new Invalid(`${names.turn(i)} must be an object (got ${show(t)})`, i);
    if (!ROLES.includes(t.role as SenderKind)) throw new Invalid(`${tf('role')} must be one of ${ROLES.join(', ')} (got ${show(t.role)})`, i);
    const type = absent(t.type) || t.type === '' ? 'text' : t.type;
    if (!TYPES.includes(type as ImportMessageType)) throw new Invalid(`${tf('type')} must be one of ${TYPES.join(', ')} (got ${show(t.type)})`, i);
    if (typeof t.text !== 'string') throw new Invalid(`${tf('text')} must be a string (got ${show(t.text)})`, i);
    if (t.text.length > MAX_TEXT_LENGTH) throw new Invalid(`${tf('text')} has ${t.text.length} characters; at most ${MAX_TEXT_LENGTH} are allowed`, i);
    if (type === 'text' && t.text.trim() === '') throw new Invalid(`${tf('text')} is empty`, i);
    storable(t.text, tf('text'), i);
    const turnAgent = optionalString(t.agent, tf('agent'), MAX_LOGIN, i);
    return {
      role: t.role as SenderKind,
      type: type as ImportMessageType,
      text: t.text,
      at: optionalTime(t.at, tf('at'), importStart, i),
      agent: t.role === 'agent' ? (turnAgent ?? agent) : null,
    };
  });

  let startedAt = optionalTime(raw.startedAt, f('startedAt'), importStart);
  if (startedAt === null) {
    const k = given.findIndex((t) => t.at !== null);
    startedAt = k >= 0 ? given[k]!.at! - k * TURN_GAP_MS : importStart - (given.length - 1) * TURN_GAP_MS;
  }
  let prev = startedAt;
  const turns: ImportTurn[] = given.map((t, i) => {
    const at = t.at ?? (i === 0 ? startedAt : prev + TURN_GAP_MS);
    if (at < prev) {
      const before = i === 0 ? f('startedAt') : names.turn(i - 1);
      throw new Invalid(`${names.turnField(i, 'at')} ${new Date(at).toISOString()} is earlier than ${before} (${new Date(prev).toISOString()})`, i);
    }
    prev = at;
    return { ...t, at };
  });
  return { line, externalId, channel, customer, agent, startedAt, turns };
}

export function defaultCustomerName(externalId: string): string {
  return `导入客户 ${externalId}`;
}

/** The raw id of a record for a report, when it has a usable one. */
export function rawId(raw: unknown): string | undefined {
  if (!isObject(raw)) return undefined;
  if (typeof raw.id === 'string' && raw.id.trim() !== '') return raw.id.trim().slice(0, MAX_ID);
  if (typeof raw.id === 'number' && Number.isSafeInteger(raw.id)) return String(raw.id);
  return undefined;
}
