import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import type { Store } from '../../store/index.ts';
import { searchParamsSchema, type SearchScope } from '../search.ts';
import { MAX_DATA_ROWS_PER_SHEET, checkTimeZone, isoFormatter, rowCells, serverTimeZone } from './columns.ts';
import { CsvWriter } from './csv.ts';
import { OUTPUT_BUFFER_BYTES, Output } from './output.ts';
import { countExportRows, exportBatches, type ExportFilters } from './rows.ts';

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const timeZoneSchema = z.string().min(1).max(64).refine((tz) => {
  try {
    checkTimeZone(tz);
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Asia/Shanghai or UTC');

/** The filters of an export as they come from HTTP or the CLI: those of a search, without paging and order. */
export const exportFiltersSchema = searchParamsSchema.omit({ sort: true, cursor: true, limit: true });

export interface ExportOptions {
  format: ExportFormat;
  /** whose export it is: a staff member's scope applies (the same as their search), or 'all' for the local operator */
  scope: SearchScope;
  /** a file path, or a stream (ended when the export finishes) */
  out: Writable | string;
  /** mask phone, ID card and bank card numbers and emails in the text and the customer name; default true */
  mask?: boolean;
  /** IANA zone of the time column; default the server's zone */
  timeZone?: string;
  /** called after each batch; asking for progress makes the export count its rows first (one count query) */
  onProgress?: (p: { rows: number; totalRows: number }) => void;
  /** rows read per query (default 5,000) */
  batchSize?: number;
  /** XLSX: data rows per sheet before a new sheet starts (default Excel's limit, 1,048,575) */
  maxRowsPerSheet?: number;
  signal?: AbortSignal;
}

export interface ExportResult {
  rows: number;
  bytes: number;
  sha256: string;
  /** XLSX: how many sheets were written */
  sheets: number;
}

export class ExportError extends Error {
  constructor(
    public readonly code: 'invalid_time_zone' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

/** yield to the event loop every this many rows, so a server export leaves room for chat traffic */
const YIELD_EVERY = 1000;

/**
 * Writes the messages the filters cover — the same messages a search with these filters finds — as CSV or XLSX, by
 * conversation and seq, in constant memory: rows are read in batches (exportBatches) and written with backpressure.
 */
export async function exportMessages(store: Store, filters: ExportFilters, opts: ExportOptions): Promise<ExportResult> {
  const timeZone = opts.timeZone ?? serverTimeZone();
  try {
    checkTimeZone(timeZone);
  } catch {
    throw new ExportError('invalid_time_zone', `unknown time zone "${timeZone}"; use an IANA name such as Asia/Shanghai or UTC`);
  }
  const mask = opts.mask ?? true;
  const batchSize = opts.batchSize ?? 5000;
  const totalRows = opts.onProgress ? await countExportRows(store, filters, opts.scope) : 0;
  const formatTime = isoFormatter(timeZone);

  const file = typeof opts.out === 'string' ? opts.out : null;
  const output = new Output(file ? fs.createWriteStream(file, { highWaterMark: OUTPUT_BUFFER_BYTES }) : (opts.out as Writable));
  // exceljs is large: loaded on the first XLSX export, not with the server
  const writer = opts.format === 'csv' ? new CsvWriter(output) : new (await import('./xlsx.ts')).XlsxWriter(output, opts.maxRowsPerSheet ?? MAX_DATA_ROWS_PER_SHEET);
  let rows = 0;
  try {
    await writer.start();
    opts.onProgress?.({ rows, totalRows });
    for await (const batch of exportBatches(store, filters, opts.scope, { batchSize })) {
      for (let i = 0; i < batch.length; i += YIELD_EVERY) {
        if (opts.signal?.aborted) throw new ExportError('aborted', 'the export was cancelled');
        await writer.write(batch.slice(i, i + YIELD_EVERY).map((r) => rowCells(r, formatTime, mask)));
        rows += Math.min(YIELD_EVERY, batch.length - i);
        await yieldToEventLoop();
      }
      opts.onProgress?.({ rows, totalRows: Math.max(totalRows, rows) });
    }
    await writer.end();
    const { bytes, sha256 } = await output.finish();
    return { rows, bytes, sha256, sheets: writer instanceof CsvWriter ? 0 : writer.sheets };
  } catch (err) {
    output.abort(err as Error);
    if (file) fs.rmSync(file, { force: true });
    throw err;
  }
}
