import type { Line } from './lines.ts';
import { ImportError, Invalid, show, validateRecord, type FieldNames, type Parsed, type RawRecord } from './record.ts';

/** A CSV row: the line it starts on, its fields, and what was wrong with it when it is malformed. */
export interface CsvRow {
  line: number;
  fields: string[];
  error?: string;
}

/** A row longer than this is refused: it is almost certainly an unclosed quote swallowing the rest of the file. */
export const MAX_ROW_CHARS = 1024 * 1024;

/**
 * RFC 4180 rows from lines, one line at a time: fields separated by commas, a field in double quotes may hold commas,
 * line breaks (kept as they are in the file, CRLF or LF) and quotes written twice. Rows end with CRLF or LF. A quote
 * inside an unquoted field is kept as a character (as Excel and most writers expect); anything but a comma or the end
 * of the line after a closing quote makes the row malformed. Blank lines between rows are skipped.
 */
export class CsvRowParser {
  private row: CsvRow | null = null;
  private field = '';
  private inQuotes = false;
  private afterQuote = false;
  private atFieldStart = true;
  private chars = 0;

  /** feeds one line; returns the row it completes, if any */
  feed(lineNo: number, text: string): CsvRow | null {
    if (this.row === null) {
      if (text === '' || text === '\r') return null;
      this.row = { line: lineNo, fields: [] };
      this.field = '';
      this.atFieldStart = true;
      this.afterQuote = false;
      this.chars = 0;
    } else this.field += '\n'; // the line break inside a quoted field
    this.chars += text.length + 1;
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.inQuotes) {
        const q = text.indexOf('"', i);
        if (q === -1) {
          this.field += text.slice(i);
          break;
        }
        this.field += text.slice(i, q);
        if (text.charCodeAt(q + 1) === 34) {
          this.field += '"';
          i = q + 2;
        } else {
          this.inQuotes = false;
          this.afterQuote = true;
          i = q + 1;
        }
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 44 /* , */) {
        this.endField();
        i += 1;
      } else if (c === 34 /* " */ && this.atFieldStart) {
        this.inQuotes = true;
        this.atFieldStart = false;
        i += 1;
      } else if (c === 13 /* \r */ && i === n - 1) {
        i += 1; // the CR of a CRLF row end
      } else {
        if (this.afterQuote) this.row.error ??= `unexpected ${show(text[i])} after a closing quote (a quote inside a quoted field is written "")`;
        const stop = nextSpecial(text, i + 1);
        this.field += text.slice(i, stop);
        this.atFieldStart = false;
        i = stop;
      }
    }
    if (this.inQuotes) {
      if (this.chars <= MAX_ROW_CHARS) return null;
      return this.fail(`quoted field is still open after ${MAX_ROW_CHARS} characters (a missing closing quote?)`);
    }
    this.endField();
    const row = this.row;
    this.row = null;
    return row;
  }

  /** the last row when the file ends inside a quoted field */
  end(): CsvRow | null {
    return this.row === null ? null : this.fail(`quoted field starting in the row at line ${this.row.line} is not closed at the end of the file`);
  }

  private endField() {
    this.row!.fields.push(this.field);
    this.field = '';
    this.atFieldStart = true;
    this.afterQuote = false;
  }

  private fail(error: string): CsvRow {
    const row = this.row!;
    row.error ??= error;
    this.row = null;
    this.inQuotes = false;
    this.field = '';
    return row;
  }
}

function nextSpecial(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 || c === 13) return i;
  }
  return text.length;
}

/** The columns of an import CSV. Column order is free; names are matched case-insensitively. */
export const CSV_COLUMNS = [
  'conversation_id',
  'channel',
  'started_at',
  'customer_external_id',
  'customer_name',
  'customer_phone',
  'customer_email',
  'agent',
  'role',
  'time',
  'type',
  'text',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
const REQUIRED: Column[] = ['conversation_id', 'role', 'text'];
/** columns that describe the conversation, not the message: every row of it must agree on them (or leave them empty) */
const PER_CONVERSATION: Column[] = ['channel', 'started_at', 'customer_external_id', 'customer_name', 'customer_phone', 'customer_email'];

const RECORD_FIELDS: Record<string, Column> = {
  id: 'conversation_id',
  channel: 'channel',
  startedAt: 'started_at',
  'customer.externalId': 'customer_external_id',
  'customer.name': 'customer_name',
  'customer.phone': 'customer_phone',
  'customer.email': 'customer_email',
  agent: 'agent',
};
const TURN_FIELDS: Record<string, Column> = { role: 'role', text: 'text', at: 'time', type: 'type', agent: 'agent' };

function csvNames(rowLines: number[]): FieldNames {
  return {
    field: (name) => RECORD_FIELDS[name] ?? (name === 'turns' ? 'rows' : name),
    turn: (i) => `the row at line ${rowLines[i]}`,
    turnField: (i, name) => TURN_FIELDS[name] ?? name,
  };
}

interface Group {
  id: string;
  line: number;
  conversation: Partial<Record<Column, { value: string; line: number }>>;
  agent: string | null;
  turns: Array<Record<string, string | undefined>>;
  rowLines: number[];
  bad: { line: number; reason: string } | null;
}

/**
 * One message per row; the rows of a conversation must be next to each other (the file is read once, in constant
 * memory, so rows cannot be gathered from across the file). A conversation is emitted when the next conversation's
 * first row arrives. A malformed row spoils the conversation it belongs to (by its conversation_id, or the current one
 * when it has none), so a conversation is never imported with a row missing.
 */
export async function* parseCsv(lines: AsyncIterable<Line>, importStart: number): AsyncGenerator<Parsed> {
  const parser = new CsvRowParser();
  let columns: Map<Column, number> | null = null;
  let group: Group | null = null;

  const emit = (g: Group): Parsed => {
    if (g.bad) return { ok: false, bad: { line: g.bad.line, id: g.id, reason: g.bad.reason } };
    const c = (k: Column) => g.conversation[k]?.value;
    const hasCustomer = c('customer_external_id') ?? c('customer_name') ?? c('customer_phone') ?? c('customer_email');
    const raw: RawRecord = {
      id: g.id,
      channel: c('channel'),
      startedAt: c('started_at'),
      agent: g.agent ?? undefined,
      customer: hasCustomer === undefined ? undefined : { externalId: c('customer_external_id'), name: c('customer_name'), phone: c('customer_phone'), email: c('customer_email') },
      turns: g.turns,
    };
    try {
      return { ok: true, record: validateRecord(raw, g.line, importStart, csvNames(g.rowLines)) };
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      const line = err.turn === undefined ? g.line : g.rowLines[err.turn]!;
      return { ok: false, bad: { line, id: g.id, reason: err.message } };
    }
  };

  function* take(row: CsvRow): Generator<Parsed> {
    if (columns === null) {
      columns = readHeader(row);
      return;
    }
    const cell = (k: Column): string | undefined => {
      const i = columns!.get(k);
      const v = i === undefined ? undefined : row.fields[i]?.trim();
      return v === '' ? undefined : v;
    };
    const id = cell('conversation_id') ?? group?.id;
    if (id === undefined) {
      yield { ok: false, bad: { line: row.line, reason: row.error ?? 'conversation_id is empty' } };
      return;
    }
    if (group === null || group.id !== id) {
      if (group) yield emit(group);
      group = { id, line: row.line, conversation: {}, agent: null, turns: [], rowLines: [], bad: null };
    }
    const g: Group = group;
    if (g.bad) return;
    const problem =
      row.error ??
      (row.fields.length !== columns.size ? `expected ${columns.size} fields as in the header, found ${row.fields.length}` : undefined) ??
      (cell('conversation_id') === undefined ? 'conversation_id is empty' : undefined);
    if (problem) {
      g.bad = { line: row.line, reason: problem };
      g.turns = [];
      return;
    }
    for (const k of PER_CONVERSATION) {
      const v = cell(k);
      if (v === undefined) continue;
      const seen = g.conversation[k];
      if (seen === undefined) g.conversation[k] = { value: v, line: row.line };
      else if (seen.value !== v) {
        g.bad = { line: row.line, reason: `${k} ${show(v)} differs from ${show(seen.value)} at line ${seen.line}: every row of a conversation must agree on it` };
        g.turns = [];
        return;
      }
    }
    const agent = cell('agent');
    g.agent ??= agent ?? null;
    // the text is the one cell kept exactly as written (leading spaces and line breaks are part of the message)
    g.turns.push({ role: cell('role'), text: row.fields[columns.get('text')!], at: cell('time'), type: cell('type'), agent });
    g.rowLines.push(row.line);
  }

  for await (const l of lines) {
    const row: CsvRow | null = 'error' in l ? { line: l.no, fields: [], error: l.error } : parser.feed(l.no, l.text);
    if (row) yield* take(row);
  }
  const last = parser.end();
  if (last) yield* take(last);
  if (columns === null) throw new ImportError('the file is empty: a CSV import needs a header row');
  if (group) yield emit(group);
}

function readHeader(row: CsvRow): Map<Column, number> {
  if (row.error) throw new ImportError(`header row (line ${row.line}): ${row.error}`);
  const columns = new Map<Column, number>();
  row.fields.forEach((name, i) => {
    const key = name.trim().toLowerCase() as Column;
    if (!CSV_COLUMNS.includes(key)) throw new ImportError(`unknown column ${show(name)} in the header row (line ${row.line}); the columns are ${CSV_COLUMNS.join(', ')}`);
    if (columns.has(key)) throw new ImportError(`column ${key} appears twice in the header row (line ${row.line})`);
    columns.set(key, i);
  });
  const missing = REQUIRED.filter((k) => !columns.has(k));
  if (missing.length > 0) throw new ImportError(`the header row (line ${row.line}) lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return columns;
}
