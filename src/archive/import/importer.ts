import fs from 'node:fs';
import path from 'node:path';
import type { Kysely, Transaction } from 'kysely';
import { createCustomer, customersByExternalId } from '../../customers/index.ts';
import { AppendError, assignConversations, conversationsByExternalId, openConversation, recordImportedAgents, type AppendInput, type MessageAppender } from '../../conversations/index.ts';
import type { Database, Store } from '../../store/index.ts';
import { LineReader } from './lines.ts';
import { parseJsonl } from './parse-jsonl.ts';
import { parseCsv } from './parse-csv.ts';
import { ImportError, type BadLine, type ImportRecord } from './record.ts';
import { usersByLogin } from '../../governance/index.ts';

export type ImportFormat = 'jsonl' | 'csv';

export interface ImportOptions {
  /** default: from the file name (.jsonl/.ndjson, .csv) */
  format?: ImportFormat;
  /** read and validate everything, write nothing */
  dryRun?: boolean;
  /** conversations per transaction */
  batchSize?: number;
}

export interface ImportCounts {
  imported: number;
  /** the conversation's id is already an external_id in the database: nothing was written */
  alreadyImported: number;
  /** bad records: invalid, or refused by the database */
  skipped: number;
}

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  conversations: ImportCounts;
  messages: number;
}

export interface ImportSummary {
  file: string;
  format: ImportFormat;
  dryRun: boolean;
  /** in a dry run: what would be imported */
  conversations: ImportCounts;
  messages: number;
  /** the first BAD_LINES_KEPT problems by line number; badLineCount counts them all */
  badLines: BadLine[];
  badLineCount: number;
  /** agent logins with no staff account (first BAD_LINES_KEPT); their messages have sender id null */
  unknownAgents: string[];
  messagesWithUnknownAgent: number;
  elapsedMs: number;
  messagesPerSecond: number;
}

export const BAD_LINES_KEPT = 20;
export const DEFAULT_BATCH_SIZE = 200;
/** a batch is also closed at this many messages, so a file of huge conversations keeps transactions bounded */
const MAX_BATCH_MESSAGES = 20_000;
/** distinct agent logins remembered between batches (staff accounts are few; a garbage column must not grow memory) */
const AGENT_CACHE_LIMIT = 10_000;
/** a batch this large that fails conversation by conversation, every one, is a database problem, not bad data */
const ALL_FAILED_IS_FATAL = 10;

export function formatOf(file: string): ImportFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  throw new ImportError(`cannot tell the format of ${path.basename(file)} from its name: use --format jsonl or --format csv`);
}

type Outcome = { kind: 'imported'; messages: number } | { kind: 'already' } | { kind: 'repeated' };

/**
 * Imports a JSON Lines or CSV file of conversations (docs/IMPORT.md). The file is streamed: memory stays constant
 * whatever its size. Each conversation is written whole or not at all: its customer, conversation and messages go in
 * one transaction with up to `batchSize` other conversations; when a batch fails, its conversations are retried one
 * by one so only the bad one is skipped. A conversation whose id is already an external_id is left alone, so importing
 * a file twice adds nothing.
 */
export async function importFile(
  store: Pick<Store, 'db'>,
  appender: Pick<MessageAppender, 'appendWithin'>,
  file: string,
  options: ImportOptions = {},
  onProgress?: (p: ImportProgress) => void,
): Promise<ImportSummary> {
  const started = Date.now();
  const format = options.format ?? formatOf(file);
  let totalBytes: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a file');
    totalBytes = stat.size;
  } catch (err) {
    throw new ImportError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const reader = new LineReader(fs.createReadStream(file, { highWaterMark: 256 * 1024 }));
  // synthesized times are whole seconds, so an undated file gives the same times for the same start second
  const importStart = Math.floor(started / 1000) * 1000;
  const records = format === 'csv' ? parseCsv(reader, importStart) : parseJsonl(reader, importStart);
  const run = new ImportRun(store.db, appender, { since: started, dryRun: options.dryRun ?? false, format });
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  const progress = () => onProgress?.({ bytesRead: reader.bytesRead, totalBytes, conversations: { ...run.counts }, messages: run.messages });

  let batch: ImportRecord[] = [];
  let batchMessages = 0;
  for await (const item of records) {
    if (!item.ok) {
      run.bad(item.bad);
      continue;
    }
    batch.push(item.record);
    batchMessages += item.record.turns.length;
    if (batch.length >= batchSize || batchMessages >= MAX_BATCH_MESSAGES) {
      await run.flush(batch);
      batch = [];
      batchMessages = 0;
      progress();
    }
  }
  await run.flush(batch);
  progress();

  const elapsedMs = Date.now() - started;
  return {
    file,
    format,
    dryRun: options.dryRun ?? false,
    conversations: run.counts,
    messages: run.messages,
    badLines: run.badLines.sort((a, b) => a.line - b.line),
    badLineCount: run.badLineCount,
    unknownAgents: [...run.unknownAgents],
    messagesWithUnknownAgent: run.messagesWithUnknownAgent,
    elapsedMs,
    messagesPerSecond: Math.round(run.messages / Math.max(elapsedMs / 1000, 0.001)),
  };
}

/** The state of one import: counts, the kept bad lines, and the batch writer. */
class ImportRun {
  counts: ImportCounts = { imported: 0, alreadyImported: 0, skipped: 0 };
  messages = 0;
  badLines: BadLine[] = [];
  badLineCount = 0;
  unknownAgents = new Set<string>();
  messagesWithUnknownAgent = 0;
  private agentIds = new Map<string, string | null>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly appender: Pick<MessageAppender, 'appendWithin'>,
    private readonly opts: { since: number; dryRun: boolean; format: ImportFormat },
  ) {}

  /** counts a skipped record and keeps it when it is among the first BAD_LINES_KEPT by line number */
  bad(b: BadLine) {
    this.counts.skipped += 1;
    this.badLineCount += 1;
    // a report never echoes a huge field back (an unclosed CSV quote can make an "id" of a megabyte)
    const kept: BadLine = { line: b.line, ...(b.id === undefined ? {} : { id: b.id.slice(0, 200) }), reason: b.reason.length > 300 ? `${b.reason.slice(0, 299)}…` : b.reason };
    if (this.badLines.length < BAD_LINES_KEPT) this.badLines.push(kept);
    else {
      let last = 0;
      for (let i = 1; i < this.badLines.length; i++) if (this.badLines[i]!.line > this.badLines[last]!.line) last = i;
      if (kept.line < this.badLines[last]!.line) this.badLines[last] = kept;
    }
  }

  async flush(batch: ImportRecord[]): Promise<void> {
    if (batch.length === 0) return;
    if (this.opts.dryRun) {
      const outcomes = await this.plan(this.db, batch);
      await this.resolveAgents(this.db, batch.filter((_, i) => outcomes[i]!.kind === 'imported'));
      this.tally(batch, outcomes);
      return;
    }
    try {
      this.tally(batch, await this.db.transaction().execute((trx) => this.write(trx, batch)));
      return;
    } catch (err) {
      if (batch.length === 1) {
        this.refused(batch[0]!, err);
        return;
      }
    }
    let failures = 0;
    let lastError: unknown;
    for (const record of batch) {
      try {
        this.tally([record], await this.db.transaction().execute((trx) => this.write(trx, [record])));
      } catch (err) {
        failures += 1;
        lastError = err;
        this.refused(record, err);
      }
    }
    if (failures === batch.length && batch.length >= ALL_FAILED_IS_FATAL) {
      throw new Error(`the database refused all ${batch.length} conversations of a batch, one by one too: ${(lastError as Error).message}`);
    }
  }

  private refused(record: ImportRecord, err: unknown) {
    this.bad({ line: record.line, id: record.externalId, reason: `not stored: ${(err as Error).message}` });
  }

  /** counts outcomes; called only after their transaction committed (or in a dry run) */
  private tally(batch: ImportRecord[], outcomes: Outcome[]) {
    outcomes.forEach((o, i) => {
      const r = batch[i]!;
      if (o.kind === 'imported') {
        this.counts.imported += 1;
        this.messages += o.messages;
        const unknown = (agent: string | null) => agent !== null && this.agentIds.get(agent) === null;
        for (const agent of [r.agent, ...r.turns.map((t) => t.agent)]) {
          if (unknown(agent) && this.unknownAgents.size < BAD_LINES_KEPT) this.unknownAgents.add(agent!);
        }
        this.messagesWithUnknownAgent += r.turns.filter((t) => unknown(t.agent)).length;
      } else if (o.kind === 'already') this.counts.alreadyImported += 1;
      else {
        const reason =
          this.opts.format === 'csv'
            ? `conversation_id ${r.externalId} appeared earlier in this file: the rows of a conversation must be next to each other`
            : `id ${r.externalId} appeared earlier in this file`;
        this.bad({ line: r.line, id: r.externalId, reason });
      }
    });
  }

  /**
   * What becomes of each record: already in the database before this import started, repeated (its id was imported
   * earlier in this run, or is repeated in this batch), or to be imported. Conversations this run created are told
   * apart from older ones by their id, which begins with its creation time (store/ids.ts), so no set of every id seen
   * has to be kept.
   */
  private async plan(db: Kysely<Database>, batch: ImportRecord[]): Promise<Outcome[]> {
    const existing = await conversationsByExternalId(
      db,
      batch.map((r) => r.externalId),
    );
    const inBatch = new Set<string>();
    return batch.map((r) => {
      const id = existing.get(r.externalId);
      if (id !== undefined) return createdSince(id, this.opts.since) ? { kind: 'repeated' } : { kind: 'already' };
      if (inBatch.has(r.externalId)) return { kind: 'repeated' };
      inBatch.add(r.externalId);
      return { kind: 'imported', messages: r.turns.length };
    });
  }

  private async write(trx: Transaction<Database>, batch: ImportRecord[]): Promise<Outcome[]> {
    const outcomes = await this.plan(trx, batch);
    const records = batch.filter((_, i) => outcomes[i]!.kind === 'imported');
    if (records.length === 0) return outcomes;
    const customers = await customersByExternalId(
      trx,
      records.flatMap((r) => (r.customer.externalId === null ? [] : [r.customer.externalId])),
    );
    await this.resolveAgents(trx, records);

    const inputs: AppendInput[] = [];
    const agentEvents: Array<{ conversationId: string; agent: string; userId: string | null; at: number }> = [];
    const assignments = new Map<string, string[]>();
    for (const r of records) {
      const c = r.customer;
      let customerId = c.externalId === null ? undefined : customers.get(c.externalId);
      if (customerId === undefined) {
        customerId = (await createCustomer(trx, { externalId: c.externalId, name: c.name, phone: c.phone, email: c.email })).id;
        if (c.externalId !== null) customers.set(c.externalId, customerId);
      }
      const { conversation } = await openConversation(trx, { customerId, channel: r.channel, externalId: r.externalId, createdAt: r.startedAt, state: 'closed' });
      const agents = new Map<string, number>();
      if (r.agent !== null) agents.set(r.agent, r.turns.find((t) => t.agent === r.agent)?.at ?? r.startedAt);
      for (const t of r.turns) {
        const userId = t.agent === null ? null : (this.agentIds.get(t.agent) ?? null);
        if (t.agent !== null && !agents.has(t.agent)) agents.set(t.agent, t.at);
        inputs.push({
          conversationId: conversation.id,
          clientId: null,
          // as in live chat: a customer message's sender id is the customer
          sender: { kind: t.role, id: t.role === 'customer' ? customerId : userId },
          type: t.type,
          body: t.text,
          createdAt: t.at,
        });
      }
      for (const [agent, at] of agents) agentEvents.push({ conversationId: conversation.id, agent, userId: this.agentIds.get(agent) ?? null, at });
      const assignee = this.assigneeOf(r);
      if (assignee !== null) {
        const list = assignments.get(assignee) ?? [];
        list.push(conversation.id);
        assignments.set(assignee, list);
      }
    }
    const results = await this.appender.appendWithin(trx, inputs);
    const failed = results.find((r): r is AppendError => r instanceof AppendError);
    if (failed) throw failed;
    await recordImportedAgents(trx, agentEvents);
    await assignConversations(trx, assignments);
    return outcomes;
  }

  /**
   * The staff account a conversation is filed under (what search's agent filter and "conversations they handled"
   * use): the conversation's `agent` when that login exists, else whoever wrote its last agent message with a login
   * that exists, else nobody.
   */
  private assigneeOf(r: ImportRecord): string | null {
    const id = (login: string | null) => (login === null ? null : (this.agentIds.get(login) ?? null));
    const named = id(r.agent);
    if (named !== null) return named;
    for (let i = r.turns.length - 1; i >= 0; i--) {
      const t = id(r.turns[i]!.agent);
      if (t !== null) return t;
    }
    return null;
  }

  private async resolveAgents(db: Kysely<Database>, records: ImportRecord[]) {
    const wanted = new Set<string>();
    for (const r of records) {
      if (r.agent !== null) wanted.add(r.agent);
      for (const t of r.turns) if (t.agent !== null) wanted.add(t.agent);
    }
    const missing = [...wanted].filter((a) => !this.agentIds.has(a));
    if (missing.length === 0) return;
    if (this.agentIds.size + missing.length > AGENT_CACHE_LIMIT) this.agentIds.clear();
    const found = await usersByLogin(db, missing);
    for (const login of missing) this.agentIds.set(login, found.get(login) ?? null);
  }
}

/** ids are `<prefix>_<creation time in ms, base 36, 9 digits><random>` (store/ids.ts) */
function createdSince(id: string, since: number): boolean {
  const start = id.indexOf('_') + 1;
  return parseInt(id.slice(start, start + 9), 36) >= since;
}
