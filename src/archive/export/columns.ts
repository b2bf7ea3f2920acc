import { maskPii } from '../../governance/masking.ts';

/**
 * One exported message, as read from the store: a tuple in the order of the select list (SQLite hands rows over as
 * arrays a third faster than as objects, and a million rows make a million fewer objects).
 */
export type ExportRow = [
  conversation_id: string,
  external_id: string | null,
  customer_name: string,
  agent_login: string | null,
  agent_name: string | null,
  channel: string,
  seq: number,
  sender_kind: string,
  created_at: number,
  type: string,
  body: string,
];

/** The columns of every export, in order: a Chinese and an English name in one header cell. */
export const EXPORT_COLUMNS = [
  { header: '会话ID conversation_id', width: 32 },
  { header: '外部ID external_id', width: 16 },
  { header: '客户 customer', width: 16 },
  { header: '坐席 agent', width: 14 },
  { header: '坐席姓名 agent_name', width: 14 },
  { header: '渠道 channel', width: 10 },
  { header: '序号 seq', width: 8 },
  { header: '发送方 role', width: 10 },
  { header: '时间 time', width: 30 },
  { header: '类型 type', width: 8 },
  { header: '内容 text', width: 80 },
] as const;

/** Excel's limit: 1,048,576 rows a sheet, one of them the header. */
export const MAX_DATA_ROWS_PER_SHEET = 1_048_575;

/** The index of the seq column, written as a number in XLSX. */
export const SEQ_COLUMN = 6;

/** Throws a RangeError unless the zone is an IANA time zone this Node knows (Asia/Shanghai, UTC, Europe/Berlin…). */
export function checkTimeZone(timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
}

/** The zone the server runs in (the TZ environment variable, else the system's). */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const QUARTER_HOUR = 15 * 60_000;

/**
 * Formats epoch milliseconds as ISO 8601 local time with the zone's offset: 2026-11-25T14:03:12.123+08:00.
 * The offset is looked up once per quarter hour of UTC (every zone's offset, and every change of it, falls on a
 * quarter hour), so a million rows cost a few thousand Intl calls.
 */
export function isoFormatter(timeZone: string): (ms: number) => string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const offsets = new Map<number, { ms: number; text: string }>();
  const offsetAt = (ms: number) => {
    const bucket = Math.floor(ms / QUARTER_HOUR);
    let o = offsets.get(bucket);
    if (!o) {
      const at = bucket * QUARTER_HOUR;
      const p: Record<string, number> = {};
      for (const { type, value } of parts.formatToParts(at)) if (type !== 'literal') p[type] = Number(value);
      const local = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
      const offsetMs = Math.round((local - at) / 60_000) * 60_000;
      const minutes = Math.abs(offsetMs) / 60_000;
      const text = `${offsetMs < 0 ? '-' : '+'}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
      if (offsets.size > 100_000) offsets.clear();
      o = { ms: offsetMs, text };
      offsets.set(bucket, o);
    }
    return o;
  };
  // messages of a conversation are minutes apart: the text up to the minute is reused while it stays the same
  let minute = NaN;
  let upToMinute = '';
  return (ms) => {
    const o = offsetAt(ms);
    const local = ms + o.ms;
    const m = Math.floor(local / 60_000);
    if (m !== minute) {
      minute = m;
      upToMinute = new Date(m * 60_000).toISOString().slice(0, 17);
    }
    const rest = local - m * 60_000;
    const sec = Math.floor(rest / 1000);
    const milli = rest - sec * 1000;
    return `${upToMinute}${sec < 10 ? '0' : ''}${sec}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}${o.text}`;
  };
}

/** The cells of a row, as strings and one number (seq); PII in the customer name and the text masked when asked. */
export function rowCells(r: ExportRow, formatTime: (ms: number) => string, mask: boolean): [string, string, string, string, string, string, number, string, string, string, string] {
  return [
    r[0],
    r[1] ?? '',
    mask ? maskPii(r[2]).text : r[2],
    r[3] ?? '',
    r[4] ?? '',
    r[5],
    Number(r[6]),
    r[7],
    formatTime(Number(r[8])),
    r[9],
    mask ? maskPii(r[10]).text : r[10],
  ];
}

export type Cells = ReturnType<typeof rowCells>;
