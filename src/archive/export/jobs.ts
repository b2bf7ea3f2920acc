import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../../store/index.ts';
import { unmaskGrantsOf, type Viewer } from '../../governance/index.ts';
import { SearchError } from '../search.ts';
import { isoFormatter } from './columns.ts';
import { ExportError, exportMessages, type ExportFormat } from './export.ts';
import { checkExportFilters, type ExportFilters } from './rows.ts';

export type ExportJobState = 'queued' | 'running' | 'done' | 'failed';

export interface ExportJob {
  id: string;
  /** the staff member who asked: the only one who sees the job and its file, with their scope at that moment */
  owner: Viewer;
  format: ExportFormat;
  filters: ExportFilters;
  timeZone: string;
  /** an explicit unmasked export: only the conversations the owner's unmask grants cover, as written */
  unmasked: boolean;
  /** the unmask grants valid when it was asked for */
  unmaskGrants: string[];
  state: ExportJobState;
  rows: number;
  totalRows: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { code: string; message: string } | null;
  bytes: number | null;
  sha256: string | null;
  file: string;
}

export class ExportJobError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** kefu-export-20261125-140312.csv, the time of the request in the export's zone */
export function downloadName(job: Pick<ExportJob, 'createdAt' | 'timeZone' | 'format'>): string {
  const t = isoFormatter(job.timeZone)(job.createdAt);
  return `kefu-export-${t.slice(0, 10).replaceAll('-', '')}-${t.slice(11, 19).replaceAll(':', '')}.${job.format}`;
}

/**
 * Background exports of the server: run in this process one at a time, in the order asked, into files under the
 * data directory. Jobs live in memory; jobs and files older than the retention (24 h) are removed, files left by an
 * earlier run included.
 */
export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();
  private readonly queue: ExportJob[] = [];
  private running: { job: ExportJob; abort: AbortController; done: Promise<void> } | null = null;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  private readonly retentionMs: number;
  private readonly maxPendingPerUser: number;

  constructor(
    private readonly store: Store,
    readonly dir: string,
    private readonly opts: { log?: Logger; retentionMs?: number; maxPendingPerUser?: number; batchSize?: number } = {},
  ) {
    this.retentionMs = opts.retentionMs ?? 24 * 60 * 60 * 1000;
    this.maxPendingPerUser = opts.maxPendingPerUser ?? 3;
    fs.mkdirSync(dir, { recursive: true });
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.retentionMs, 60 * 60 * 1000));
    this.sweeper.unref();
  }

  /** Queues an export; refuses filters that cannot run (an unknown agent) and too many pending jobs of one user. */
  async create(owner: Viewer, request: { format: ExportFormat; filters: ExportFilters; timeZone: string; unmask?: boolean }): Promise<ExportJob> {
    if (this.closed) throw new ExportJobError(503, 'shutting_down', 'the server is shutting down; ask again in a moment');
    const pending = [...this.jobs.values()].filter((j) => j.owner.id === owner.id && (j.state === 'queued' || j.state === 'running')).length;
    if (pending >= this.maxPendingPerUser) {
      throw new ExportJobError(429, 'too_many_exports', `you already have ${pending} exports waiting or running; wait until one has finished`);
    }
    const unmaskGrants = request.unmask ? await unmaskGrantsOf(this.store.db, owner) : [];
    if (request.unmask && unmaskGrants.length === 0) {
      throw new ExportJobError(403, 'unmask_grant_required', 'an unmasked export needs an approved access request that allows unmasking; without one, export masked');
    }
    try {
      await checkExportFilters(this.store, request.filters, owner);
    } catch (err) {
      if (err instanceof SearchError) throw new ExportJobError(400, err.code, err.message);
      throw err;
    }
    const id = `exp_${randomUUID().replaceAll('-', '')}`;
    const job: ExportJob = {
      id,
      owner,
      format: request.format,
      filters: request.filters,
      timeZone: request.timeZone,
      unmasked: request.unmask === true,
      unmaskGrants,
      state: 'queued',
      rows: 0,
      totalRows: null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      error: null,
      bytes: null,
      sha256: null,
      file: path.join(this.dir, `${id}.${request.format}`),
    };
    this.jobs.set(id, job);
    this.queue.push(job);
    this.next();
    return job;
  }

  /** The job, when it exists and belongs to this user; another user's job is as unknown as a missing one. */
  get(ownerId: string, id: string): ExportJob | undefined {
    const job = this.jobs.get(id);
    return job && job.owner.id === ownerId ? job : undefined;
  }

  /** This user's jobs, newest first. */
  list(ownerId: string): ExportJob[] {
    return [...this.jobs.values()].filter((j) => j.owner.id === ownerId).sort((a, b) => b.createdAt - a.createdAt);
  }

  expiresAt(job: ExportJob): number | null {
    return job.finishedAt === null ? null : job.finishedAt + this.retentionMs;
  }

  private next(): void {
    if (this.running || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    const abort = new AbortController();
    job.state = 'running';
    job.startedAt = Date.now();
    const done = exportMessages(this.store, job.filters, {
      format: job.format,
      out: job.file,
      // the unmask grants are looked up again as the rows are read: one revoked meanwhile no longer counts
      scope: job.unmasked ? { unmaskedFor: job.owner } : job.owner,
      mask: !job.unmasked,
      timeZone: job.timeZone,
      batchSize: this.opts.batchSize,
      signal: abort.signal,
      onProgress: (p) => {
        job.rows = p.rows;
        job.totalRows = p.totalRows;
      },
    })
      .then((r) => {
        job.state = 'done';
        job.rows = r.rows;
        job.totalRows = r.rows;
        job.bytes = r.bytes;
        job.sha256 = r.sha256;
      })
      .catch((err: unknown) => {
        job.state = 'failed';
        if (err instanceof ExportError || err instanceof SearchError) job.error = { code: err.code, message: err.message };
        else {
          this.opts.log?.error({ err, job: job.id }, 'export failed');
          job.error = { code: 'export_failed', message: 'the export failed; please try again, or ask an administrator to look at the server log' };
        }
      })
      .finally(() => {
        job.finishedAt = Date.now();
        this.running = null;
        this.next();
      });
    this.running = { job, abort, done };
  }

  /** Forgets finished jobs older than the retention and deletes their files, and any other file that old. */
  sweep(now = Date.now()): void {
    for (const job of this.jobs.values()) {
      if (job.finishedAt !== null && job.finishedAt + this.retentionMs <= now) {
        this.jobs.delete(job.id);
        fs.rmSync(job.file, { force: true });
      }
    }
    const live = new Set([...this.jobs.values()].map((j) => path.basename(j.file)));
    for (const name of fs.readdirSync(this.dir)) {
      if (live.has(name)) continue;
      const file = path.join(this.dir, name);
      try {
        if (fs.statSync(file).mtimeMs + this.retentionMs <= now) fs.rmSync(file, { force: true });
      } catch {
        // removed meanwhile
      }
    }
  }

  /** Stops: the running export is cancelled (its partial file removed), queued ones are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const job of this.queue.splice(0)) {
      job.state = 'failed';
      job.error = { code: 'shutting_down', message: 'the server stopped before this export ran' };
      job.finishedAt = Date.now();
    }
    if (this.running) {
      this.running.abort.abort();
      await this.running.done;
    }
  }
}
