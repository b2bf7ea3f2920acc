import type { Lang, Translate } from './i18n.ts';

const DAY_MS = 86_400_000;

function startOfDay(d: Date): number {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** Days between a date and today in local time: 0 today, 1 yesterday. */
export function daysAgo(iso: string, now = new Date()): number {
  return Math.round((startOfDay(now) - startOfDay(new Date(iso))) / DAY_MS);
}

export function clockTime(iso: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
}

export function fullDateTime(iso: string | number, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
}

/** Inbox style: the time today, "yesterday", the day within a week, the date after that. */
export function shortTime(iso: string | null | undefined, lang: Lang, t: Translate): string {
  if (!iso) return '';
  const days = daysAgo(iso);
  if (days <= 0) return clockTime(iso, lang);
  if (days === 1) return t('conv.yesterday');
  const d = new Date(iso);
  if (days < 7) return new Intl.DateTimeFormat(lang, { weekday: 'short' }).format(d);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return new Intl.DateTimeFormat(lang, sameYear ? { month: 'numeric', day: 'numeric' } : { year: 'numeric', month: 'numeric', day: 'numeric' }).format(d);
}

/** Heading of a day in the message list. */
export function dayLabel(iso: string, lang: Lang, t: Translate): string {
  const days = daysAgo(iso);
  if (days === 0) return t('conv.today');
  if (days === 1) return t('conv.yesterday');
  return new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' }).format(new Date(iso));
}

const MEDIA_TYPES = ['image', 'voice', 'video', 'file'] as const;
type MediaType = (typeof MEDIA_TYPES)[number];

/** A message body as text: attachments are named by their kind, since the console does not render media yet. */
export function messageText(m: { type: string; text: string }, t: Translate): string {
  if (!(MEDIA_TYPES as readonly string[]).includes(m.type)) return m.text;
  const kind = t(`type.${m.type as MediaType}`);
  return m.text ? `[${kind}] ${m.text}` : `[${kind}]`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** YYYY-MM-DD HH:mm:ss in local time: the archive's timestamp, unambiguous in either language. */
export function timestamp(at: string | number): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function isMediaType(type: string): type is MediaType {
  return (MEDIA_TYPES as readonly string[]).includes(type);
}

/**
 * Cuts a text into plain and highlighted pieces by [start, end) offsets. Ranges out of bounds are clipped,
 * overlapping ones merged and reversed ones dropped, so a malformed server answer still renders the whole text.
 */
export function highlightSegments(text: string, ranges: ReadonlyArray<readonly [number, number]>): Array<{ text: string; hit: boolean }> {
  const clean = ranges
    .map(([s, e]) => [Math.max(0, Math.min(text.length, Math.trunc(s))), Math.max(0, Math.min(text.length, Math.trunc(e)))] as const)
    .filter(([s, e]) => Number.isFinite(s) && Number.isFinite(e) && e > s)
    .sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of clean) {
    const last = merged.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const out: Array<{ text: string; hit: boolean }> = [];
  let at = 0;
  for (const [s, e] of merged) {
    if (s > at) out.push({ text: text.slice(at, s), hit: false });
    out.push({ text: text.slice(s, e), hit: true });
    at = e;
  }
  if (at < text.length) out.push({ text: text.slice(at), hit: false });
  return out;
}

/** A customer attribute's value as one line of text: scalars as written, anything else as JSON. */
export function attributeText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}
