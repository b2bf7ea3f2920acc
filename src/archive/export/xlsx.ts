import { once } from 'node:events';
import ExcelJS from 'exceljs';
import { EXPORT_COLUMNS, MAX_DATA_ROWS_PER_SHEET, SEQ_COLUMN, type Cells } from './columns.ts';
import type { Output } from './output.ts';

/** Excel's limit of characters in a cell; a longer text is cut and marked (the CSV export keeps it whole). */
export const MAX_CELL_CHARS = 32_767;
const CUT_MARK = '…[truncated]';

// characters XML 1.0 does not allow; exceljs would write them and Excel would refuse the file
const XML_ILLEGAL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

function cellText(s: string): string {
  const clean = s.replace(XML_ILLEGAL, '\ufffd');
  return clean.length <= MAX_CELL_CHARS ? clean : clean.slice(0, MAX_CELL_CHARS - CUT_MARK.length) + CUT_MARK;
}

/**
 * Streams rows into an XLSX workbook with exceljs's streaming writer: every row is committed as it is added, strings
 * are inline (no shared-string table held in memory), and a full sheet is committed before the next one starts.
 */
export class XlsxWriter {
  private readonly workbook: ExcelJS.stream.xlsx.WorkbookWriter;
  private sheet: ExcelJS.Worksheet | null = null;
  private rowsInSheet = 0;
  sheets = 0;

  constructor(
    private readonly out: Output,
    private readonly maxRowsPerSheet = MAX_DATA_ROWS_PER_SHEET,
  ) {
    // no styles: they make exceljs about four times slower, and a frozen header row needs none
    this.workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out.stream, useStyles: false, useSharedStrings: false });
    this.workbook.creator = 'kefu';
  }

  async start(): Promise<void> {
    this.newSheet();
  }

  private newSheet(): void {
    this.sheets++;
    this.sheet = this.workbook.addWorksheet(this.sheets === 1 ? 'messages' : `messages ${this.sheets}`, { views: [{ state: 'frozen', ySplit: 1 }] });
    this.sheet.columns = EXPORT_COLUMNS.map((c) => ({ header: c.header, width: c.width }));
    this.sheet.getRow(1).commit();
    this.rowsInSheet = 0;
  }

  async write(rows: Cells[]): Promise<void> {
    for (const r of rows) {
      if (this.rowsInSheet === this.maxRowsPerSheet) {
        // the full sheet is drained into the zip and closed before the next one opens: the zip takes sheets one after
        // the other, so rows of a sheet opened early would wait in memory
        await this.sheetDrained();
        (this.sheet as unknown as { commit(): void }).commit();
        await this.out.drained();
        this.newSheet();
      }
      const values: Array<string | number> = r.map((v, i) => (i === SEQ_COLUMN ? v : cellText(v as string)));
      this.sheet!.addRow(values).commit();
      this.rowsInSheet++;
    }
    await this.sheetDrained();
    await this.out.drained();
  }

  /**
   * exceljs writes a sheet's XML into a stream that the zip reads at its own pace, and ignores that stream's
   * backpressure: unchecked, a large sheet piles up in memory faster than it is compressed. We wait for that stream
   * (a readable-stream PassThrough inside exceljs 4) to drain. Should a later exceljs not have it, nothing waits and
   * the memory test in export-memory.test.ts fails.
   */
  private async sheetDrained(): Promise<void> {
    const inner = (this.sheet as unknown as { stream?: { pipes?: Array<NodeJS.EventEmitter & { _writableState?: { needDrain?: boolean } }> } }).stream?.pipes?.[0];
    if (inner?._writableState?.needDrain) await once(inner, 'drain');
  }

  async end(): Promise<void> {
    await this.workbook.commit();
  }
}
