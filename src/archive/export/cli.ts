import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Config } from '../../server/config.ts';
import { openStore } from '../../store/index.ts';
import { storeLeftMessageLog } from '../../conversations/message-log-offline.ts';
import { AuditLog, LOCAL_OPERATOR } from '../../governance/index.ts';
import { SearchError } from '../search.ts';
import { serverTimeZone } from './columns.ts';
import { EXPORT_FORMATS, ExportError, exportFiltersSchema, exportMessages, timeZoneSchema, type ExportFormat } from './export.ts';

/** The options of `kefu export`, as commander hands them over. */
export interface ExportCommandOptions {
  format?: string;
  out: string;
  query?: string;
  from?: string;
  to?: string;
  customer?: string;
  agent?: string;
  channel?: string;
  tag?: string;
  group?: string;
  conversation?: string;
  tz?: string;
  force: boolean;
}

/** A refusal of the command line: printed as `kefu: message`, exit status 2. */
class UsageError extends Error {}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
const grouped = (n: number) => Math.round(n).toLocaleString('en-US');

function validate(o: ExportCommandOptions) {
  const fromName = path.extname(o.out).slice(1).toLowerCase();
  const format = (o.format ?? fromName) as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UsageError(o.format ? `--format: must be csv or xlsx, got "${o.format}"` : `--format: say csv or xlsx (the file name ${o.out} does not tell)`);
  }
  const out = path.resolve(o.out);
  if (!fs.existsSync(path.dirname(out))) throw new UsageError(`--out: the folder ${path.dirname(out)} does not exist`);
  if (fs.existsSync(out) && !o.force) throw new UsageError(`--out: ${o.out} exists; add --force to overwrite it`);
  const filters = exportFiltersSchema.safeParse({ q: o.query ?? '', from: o.from, to: o.to, customer: o.customer, agent: o.agent, channel: o.channel, tag: o.tag, group: o.group, conversation: o.conversation });
  if (!filters.success) {
    const issue = filters.error.issues[0]!;
    const flag = issue.path[0] === 'q' ? 'query' : String(issue.path[0]);
    throw new UsageError(`--${flag}: ${issue.message}`);
  }
  const tz = timeZoneSchema.safeParse(o.tz ?? serverTimeZone());
  if (!tz.success) throw new UsageError(`--tz: ${tz.error.issues[0]!.message}, got "${o.tz}"`);
  return { format, out, filters: filters.data, timeZone: tz.data };
}

/**
 * `kefu export`: writes the messages the filters cover to a file, masked, with a progress bar on a terminal and a
 * summary (rows, bytes, sha256, time, speed). The file appears only when complete (written as FILE.part, renamed).
 */
export async function exportCommand(o: ExportCommandOptions, config: () => Config): Promise<void> {
  let v: ReturnType<typeof validate>;
  try {
    v = validate(o);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`kefu: ${err.message}\n`);
    process.exit(2);
  }
  const cfg = config();
  const store = await openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir });
  // what a stopped server left in its message log belongs in the export
  await storeLeftMessageLog(store, cfg.dataDir);
  const partial = `${v.out}.part`;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: 'exporting [{bar}] {percentage}% | {value}/{total} messages | {speed} rows/s | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const started = performance.now();
  try {
    const result = await exportMessages(store, v.filters, {
      format: v.format,
      out: partial,
      scope: 'all',
      timeZone: v.timeZone,
      signal: abort.signal,
      onProgress: bar
        ? (p) => {
            const speed = grouped(p.rows / Math.max(0.001, (performance.now() - started) / 1000));
            if (p.rows === 0) bar.start(p.totalRows, 0, { speed });
            else bar.update(p.rows, { speed });
            bar.setTotal(p.totalRows);
          }
        : undefined,
    });
    bar?.stop();
    fs.renameSync(partial, v.out);
    const seconds = (performance.now() - started) / 1000;
    await new AuditLog(store.db, store.dialect).record({
      actor: LOCAL_OPERATOR,
      action: 'export',
      query: v.filters,
      detail: { phase: 'written', via: 'cli', file: v.out, format: v.format, rows: result.rows, bytes: result.bytes, sha256: result.sha256 },
    });
    const sheets = v.format === 'xlsx' && result.sheets > 1 ? `, ${result.sheets} sheets` : '';
    process.stdout.write(
      `exported ${grouped(result.rows)} messages to ${o.out} (${v.format}${sheets}, ${mib(result.bytes)}, masked, times in ${v.timeZone})\n` +
        `elapsed ${seconds.toFixed(1)} s, ${grouped(result.rows / Math.max(seconds, 0.001))} rows/s\n` +
        `sha256 ${result.sha256}\n`,
    );
  } catch (err) {
    bar?.stop();
    fs.rmSync(partial, { force: true });
    if (err instanceof SearchError) {
      process.stderr.write(`kefu: ${err.code === 'unknown_agent' ? '--agent: ' : ''}${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof ExportError && err.code === 'aborted') {
      process.stderr.write('kefu: export interrupted; no file written\n');
      process.exitCode = 130;
    } else throw err;
  } finally {
    process.off('SIGINT', onSignal);
    await store.close();
  }
}
