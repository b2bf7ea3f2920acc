import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database, DialectName } from '../store/index.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { actorOf, requireUser } from './http.ts';
import type { AuditLog } from './audit.ts';
import { PolicyError } from './auth-policy.ts';
import { ALWAYS_APPROVER, grantApproverRoles, mayDecide, setGrantApproverRoles } from './policies/grants.ts';
import {
  GrantError,
  approveGrant,
  denyGrant,
  grantRequestSchema,
  listGrants,
  previewCoverage,
  requestGrant,
  revokeGrant,
  type GrantErrorCode,
} from './grants.ts';

const STATUS: Record<GrantErrorCode, number> = { not_found: 404, invalid: 400, forbidden: 403, self_approval: 403, not_pending: 409, not_active: 409, too_broad: 400 };

function grantError(err: unknown): never {
  if (err instanceof GrantError) throw new HttpError(STATUS[err.code], err.code, err.message);
  throw err;
}

const flag = z.enum(['1', 'true']).optional();
const listQuery = z.object({ mine: flag, pending: flag, all: flag, limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict();
const idParams = z.object({ id: z.string().min(1).max(100) });
const noteBody = z.object({ note: z.string().trim().max(500).optional() }).strict();
const rolesBody = z.object({ roles: z.array(z.string().max(20)).max(10) }).strict();
const denyBody = z.object({ note: z.string().trim().min(2, 'say why the request is denied (at least 2 characters)').max(500) }).strict();

export function registerGrantRoutes(app: FastifyInstance, db: Kysely<Database>, dialect: DialectName, audit: AuditLog) {
  const deps = { db, dialect, audit };
  const requireApprover = async (request: Parameters<typeof requireUser>[0]) => {
    const user = requireUser(request);
    const roles = await grantApproverRoles(db);
    if (!mayDecide(actorOf(user), roles)) throw new HttpError(403, 'forbidden', `only ${roles.join(', ')} may decide on access requests`);
    return user;
  };
  const requireAdmin = (request: Parameters<typeof requireUser>[0]) => {
    const user = requireUser(request);
    if (user.role !== 'admin') throw new HttpError(403, 'forbidden', 'only admins change who decides on access requests');
    return user;
  };

  // any member of staff may ask, also for conversations outside their scope (a complaint handled by another department)
  app.post('/api/v1/grants', async (request, reply) => {
    const user = requireUser(request);
    const body = parseOr400(grantRequestSchema, request.body);
    const grant = await requestGrant(deps, user, body, { ip: request.ip }).catch(grantError);
    return reply.status(201).send({ grant });
  });

  // ?mine=1 (the default): one's own requests; ?pending=1: awaiting a decision, ?all=1: everyone's (approvers only)
  app.get('/api/v1/grants', async (request) => {
    const user = requireUser(request);
    const q = parseOr400(listQuery, request.query ?? {});
    // the console shows the approver's lists to whoever the approver-roles setting names
    const decides = mayDecide(actorOf(user), await grantApproverRoles(db));
    if (q.pending || q.all) {
      await requireApprover(request);
      const grants = await listGrants(db, { pending: q.pending !== undefined, limit: q.limit });
      if (!q.pending) return { grants, mayDecide: decides };
      return { grants: await Promise.all(grants.map(async (g) => ({ ...g, preview: await previewCoverage(db, dialect, g) }))), mayDecide: decides };
    }
    return { grants: await listGrants(db, { requesterId: user.id, limit: q.limit }), mayDecide: decides };
  });

  app.post('/api/v1/grants/:id/approve', async (request) => {
    const user = await requireApprover(request);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(noteBody, request.body ?? {});
    return { grant: await approveGrant(deps, id, actorOf(user), { ip: request.ip, note: body.note || undefined }).catch(grantError) };
  });

  app.post('/api/v1/grants/:id/deny', async (request) => {
    const user = await requireApprover(request);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(denyBody, request.body ?? {});
    return { grant: await denyGrant(deps, id, actorOf(user), body.note, { ip: request.ip }).catch(grantError) };
  });

  // the requester gives a grant up (or withdraws a request); an approver ends anyone's
  app.post('/api/v1/grants/:id/revoke', async (request) => {
    const user = requireUser(request);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(noteBody, request.body ?? {});
    return { grant: await revokeGrant(deps, id, actorOf(user), { ip: request.ip, note: body.note || undefined }).catch(grantError) };
  });

  // who decides on access requests besides admins: an admin setting, audited as config.change
  app.get('/api/v1/admin/settings/grant-approvers', async (request) => {
    requireAdmin(request);
    return { roles: await grantApproverRoles(db), alwaysApprover: ALWAYS_APPROVER };
  });

  app.put('/api/v1/admin/settings/grant-approvers', async (request) => {
    const admin = requireAdmin(request);
    const body = parseOr400(rolesBody, request.body);
    const change = await setGrantApproverRoles(db, body.roles).catch((err: unknown) => {
      if (err instanceof PolicyError) throw new HttpError(400, 'invalid_request', err.message);
      throw err;
    });
    await audit.record({ actor: actorOf(admin), action: 'config.change', target: { type: 'setting', id: 'grantApproverRoles' }, ip: request.ip, detail: change });
    return { roles: change.to, alwaysApprover: ALWAYS_APPROVER };
  });
}
