import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { openStore, type Store, type StoreOptions } from '../../store/index.ts';
import { storeLeftMessageLog } from '../../conversations/message-log-offline.ts';
import { MessageAppender } from '../../conversations/index.ts';
import { importFile, BAD_LINES_KEPT, type ImportFormat, type ImportSummary } from './importer.ts';
import { ImportError } from './record.ts';

export interface ImportCommandOptions {
  format?: ImportFormat;
  dryRun?: boolean;
  json?: boolean;
}

interface Streams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Exit codes of `kefu import`. */
export const EXIT = { ok: 0, someSkipped: 1, failed: 2 } as const;

const n = (x: number) => x.toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * `kefu import FILE`: runs importFile with a progress bar on a terminal and prints the summary (text, or JSON with
 * --json). Resolves to the exit code: 0 when every record was imported or already there, 1 when some were skipped,
 * 2 when the import could not run (or stopped: what was committed before stays, and a rerun continues from there).
 */
export async function importCommand(storeOptions: StoreOptions, file: string, o: ImportCommandOptions, io: Streams = process): Promise<number> {
  const bar = io.stderr.isTTY
    ? new cliProgress.SingleBar(
        { stream: io.stderr, format: 'importing [{bar}] {percentage}% | {done} of {size} | {conversations} conversations', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let store: Store | undefined;
  try {
    // a mistyped file name must not create a database first
    if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new ImportError(`cannot read ${file}: no such file`);
    store = await openStore(storeOptions);
    await storeLeftMessageLog(store, storeOptions.dataDir);
    let started = false;
    const summary = await importFile(store, new MessageAppender(store.db, store.dialect), file, { format: o.format, dryRun: o.dryRun }, (p) => {
      if (!bar) return;
      const payload = { done: mb(p.bytesRead), size: mb(p.totalBytes), conversations: n(p.conversations.imported + p.conversations.alreadyImported) };
      if (!started) bar.start(Math.max(p.totalBytes, 1), 0, payload);
      started = true;
      bar.update(Math.min(p.bytesRead, p.totalBytes), payload);
    });
    bar?.stop();
    io.stdout.write(o.json ? `${JSON.stringify(summary, null, 2)}\n` : describe(summary));
    return summary.badLineCount === 0 ? EXIT.ok : EXIT.someSkipped;
  } catch (err) {
    bar?.stop();
    const message = err instanceof Error ? err.message : String(err);
    if (o.json) io.stdout.write(`${JSON.stringify({ file, error: message }, null, 2)}\n`);
    io.stderr.write(`kefu import: ${message}${err instanceof ImportError ? '' : '\nconversations committed before the error stay imported; running the import again continues after them'}\n`);
    return EXIT.failed;
  } finally {
    await store?.close();
  }
}

function describe(s: ImportSummary): string {
  const c = s.conversations;
  const out = [
    `${path.basename(s.file)} (${s.format})${s.dryRun ? ': dry run, nothing was written' : ''}`,
    `  ${s.dryRun ? 'would import' : 'imported'}: ${n(c.imported)} conversations, ${n(s.messages)} messages`,
    `  already imported: ${n(c.alreadyImported)}`,
    `  skipped: ${n(c.skipped)}`,
    `  time: ${(s.elapsedMs / 1000).toFixed(2)} s (${n(s.messagesPerSecond)} messages/s)`,
  ];
  if (s.unknownAgents.length > 0) {
    out.push(`  agent logins with no staff account (kept by name, sender id left empty on ${n(s.messagesWithUnknownAgent)} ${s.messagesWithUnknownAgent === 1 ? 'message' : 'messages'}): ${s.unknownAgents.join(', ')}`);
  }
  if (s.badLineCount > 0) {
    out.push('', `${n(s.badLineCount)} bad ${s.badLineCount === 1 ? 'record' : 'records'} skipped:`);
    for (const b of s.badLines) out.push(`  line ${b.line}${b.id === undefined ? '' : ` (id ${b.id})`}: ${b.reason}`);
    if (s.badLineCount > BAD_LINES_KEPT) out.push(`  … and ${n(s.badLineCount - BAD_LINES_KEPT)} more`);
  }
  return `${out.join('\n')}\n`;
}
