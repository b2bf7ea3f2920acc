import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Store } from '../../store/index.ts';
import { actorOf, requireViewer } from '../../governance/http.ts';
import type { AuditLog } from '../../governance/audit.ts';
import { HttpError, parseOr400 } from '../../server/http-errors.ts';
import { serverTimeZone } from './columns.ts';
import { EXPORT_FORMATS, exportFiltersSchema, timeZoneSchema } from './export.ts';
import { CONTENT_TYPES, ExportJobError, ExportJobs, downloadName, type ExportJob } from './jobs.ts';

const createBody = exportFiltersSchema
  .extend({
    format: z.enum(EXPORT_FORMATS),
    /** zone of the time column; the console sends the browser's */
    tz: timeZoneSchema.optional(),
    /** explicit unmasked export: the conversations the caller's unmask grants cover, as written (audited as unmask) */
    unmask: z.boolean().optional(),
  })
  .strict();
const idParams = z.object({ id: z.string().min(1).max(100) });

/** The job as the API shows it. */
export function presentJob(job: ExportJob, expiresAt: number | null) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const progress = job.state === 'done' ? 1 : job.totalRows ? Math.min(1, job.rows / job.totalRows) : 0;
  return {
    id: job.id,
    state: job.state,
    format: job.format,
    filters: job.filters,
    timeZone: job.timeZone,
    unmasked: job.unmasked,
    rows: job.rows,
    totalRows: job.totalRows,
    progress: Math.round(progress * 1000) / 1000,
    createdAt: iso(job.createdAt),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    expiresAt: iso(expiresAt),
    filename: downloadName(job),
    bytes: job.bytes,
    sha256: job.sha256,
    ...(job.error ? { error: job.error } : {}),
  };
}

/**
 * Background exports for the console: POST /api/v1/exports starts one, GET …/:id reports progress, GET …/:id/download
 * sends the file. Only the user who asked sees a job (404 for everybody else). Files go to <dataDir>/exports.
 */
export function registerExportRoutes(app: FastifyInstance, deps: { store: Store; audit: AuditLog; dataDir: string; log?: Logger }) {
  const jobs = new ExportJobs(deps.store, path.join(deps.dataDir, 'exports'), { log: deps.log });
  app.addHook('onClose', async () => jobs.close());

  const owned = (ownerId: string, id: string) => {
    const job = jobs.get(ownerId, id);
    if (!job) throw new HttpError(404, 'export_not_found', `no export ${id} of yours (exports are kept for 24 hours)`);
    return job;
  };

  app.post('/api/v1/exports', async (request, reply) => {
    const viewer = await requireViewer(deps.store.db, request);
    const { format, tz, unmask, ...filters } = parseOr400(createBody, request.body);
    let job: ExportJob;
    try {
      job = await jobs.create(viewer, { format, filters, timeZone: tz ?? serverTimeZone(), unmask });
    } catch (err) {
      if (err instanceof ExportJobError) throw new HttpError(err.status, err.code, err.message);
      throw err;
    }
    await deps.audit.record({ actor: actorOf(viewer), action: 'export', query: filters, ip: request.ip, detail: { phase: 'requested', job: job.id, format, via: 'http', ...(job.unmasked ? { unmasked: true } : {}) } });
    if (job.unmasked) await deps.audit.record({ actor: actorOf(viewer), action: 'unmask', target: { type: 'export', id: job.id }, query: filters, ip: request.ip, detail: { grants: job.unmaskGrants, format } });
    return reply.status(202).send({ job: presentJob(job, jobs.expiresAt(job)) });
  });

  app.get('/api/v1/exports', async (request) => {
    const viewer = await requireViewer(deps.store.db, request);
    return { jobs: jobs.list(viewer.id).map((j) => presentJob(j, jobs.expiresAt(j))) };
  });

  app.get('/api/v1/exports/:id', async (request) => {
    const viewer = await requireViewer(deps.store.db, request);
    const { id } = parseOr400(idParams, request.params);
    const job = owned(viewer.id, id);
    return { job: presentJob(job, jobs.expiresAt(job)) };
  });

  app.get('/api/v1/exports/:id/download', async (request, reply) => {
    const viewer = await requireViewer(deps.store.db, request);
    const { id } = parseOr400(idParams, request.params);
    const job = owned(viewer.id, id);
    if (job.state !== 'done') throw new HttpError(409, 'export_not_ready', job.state === 'failed' ? 'this export failed; start a new one' : `this export is ${job.state}; download it when its state is done`);
    let size: number;
    try {
      size = fs.statSync(job.file).size;
    } catch {
      throw new HttpError(404, 'export_not_found', 'the file of this export has been removed; start a new one');
    }
    await deps.audit.record({
      actor: actorOf(viewer),
      action: 'export',
      query: job.filters,
      ip: request.ip,
      detail: { phase: 'downloaded', job: job.id, format: job.format, rows: job.rows, sha256: job.sha256, ...(job.unmasked ? { unmasked: true, grants: job.unmaskGrants } : {}) },
    });
    return reply
      .type(CONTENT_TYPES[job.format])
      .header('content-disposition', `attachment; filename="${downloadName(job)}"`)
      .header('content-length', size)
      .header('cache-control', 'private, no-store')
      .header('x-content-sha256', job.sha256 ?? '')
      .send(fs.createReadStream(job.file));
  });
}
