import { EXPORT_COLUMNS, type Cells } from './columns.ts';
import type { Output } from './output.ts';

const NEEDS_QUOTES = /[",\r\n]/;
// a cell starting like this is a formula to Excel and LibreOffice (CSV injection): customers write the text we export
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field: RFC 4180 quoting; a leading apostrophe keeps a spreadsheet from running it as a formula. */
export function csvField(value: string | number): string {
  if (typeof value === 'number') return String(value);
  const v = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** UTF-8 with a byte order mark (so Excel reads Chinese correctly), CRLF line ends, a header row. */
export class CsvWriter {
  constructor(private readonly out: Output) {}

  async start(): Promise<void> {
    await this.out.write('\uFEFF' + EXPORT_COLUMNS.map((c) => csvField(c.header)).join(',') + '\r\n');
  }

  async write(rows: Cells[]): Promise<void> {
    let text = '';
    for (const r of rows) {
      for (let i = 0; i < r.length; i++) text += (i === 0 ? '' : ',') + csvField(r[i]!);
      text += '\r\n';
    }
    await this.out.write(text);
  }

  async end(): Promise<void> {}
}
