import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../store/index.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { actorOf, requireUser } from './http.ts';
import { listAudit, type AuditLog } from './audit.ts';
import { OrgError, addGroupMember, createDepartment, createGroup, findDepartment, findGroup, listDepartments, listGroups, setUserDepartment } from './org.ts';
import { ROLES, type Role } from './users.ts';

/** Roles allowed to use a route; checked here, declared next to the route. */
function requireRole(request: Parameters<typeof requireUser>[0], roles: readonly Role[]) {
  const user = requireUser(request);
  if (!roles.includes(user.role)) throw new HttpError(403, 'forbidden', `this needs one of the roles: ${roles.join(', ')}`);
  return user;
}

const auditQuery = z.object({
  from: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time').optional(),
  to: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time').optional(),
  actor: z.string().max(64).optional(),
  action: z.string().max(40).optional(),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const nameBody = z.object({ name: z.string().trim().min(1).max(50), departmentId: z.string().max(100).nullable().optional() }).strict();
const memberBody = z.object({ userId: z.string().min(1).max(100) }).strict();
const userDeptBody = z.object({ departmentId: z.string().max(100).nullable() }).strict();
const idParams = z.object({ id: z.string().min(1).max(100) });

function orgError(err: unknown): never {
  if (err instanceof OrgError) throw new HttpError(err.code === 'not_found' ? 404 : 409, err.code, err.message);
  throw err;
}

export function registerAdminRoutes(app: FastifyInstance, db: Kysely<Database>, audit: AuditLog) {
  // the audit trail is for auditors and admins; browsing it is itself not audited (it holds no customer content)
  app.get('/api/v1/audit', async (request) => {
    requireRole(request, ['auditor', 'admin']);
    const q = parseOr400(auditQuery, request.query);
    const events = await listAudit(db, { from: q.from ? Date.parse(q.from) : undefined, to: q.to ? Date.parse(q.to) : undefined, actor: q.actor, action: q.action, beforeId: q.before, limit: q.limit });
    return { events, nextBefore: events.length === q.limit ? events.at(-1)!.id : null };
  });

  app.get('/api/v1/org', async (request) => {
    requireUser(request);
    const users = await db.selectFrom('app_user').select(['id', 'login', 'display_name', 'role', 'status', 'department_id']).orderBy('login').execute();
    const members = await db.selectFrom('group_member').selectAll().execute();
    return {
      departments: await listDepartments(db),
      groups: (await listGroups(db)).map((g) => ({ ...g, memberIds: members.filter((m) => m.group_id === g.id).map((m) => m.user_id) })),
      users: users.map((u) => ({ id: u.id, login: u.login, displayName: u.display_name, role: u.role, status: u.status, departmentId: u.department_id })),
      roles: ROLES,
    };
  });

  app.post('/api/v1/org/departments', async (request, reply) => {
    const user = requireRole(request, ['admin']);
    const body = parseOr400(nameBody, request.body);
    const d = await createDepartment(db, body.name).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'department', id: d.id }, ip: request.ip, detail: { created: d.name } });
    return reply.status(201).send({ department: d });
  });

  app.post('/api/v1/org/groups', async (request, reply) => {
    const user = requireRole(request, ['admin']);
    const body = parseOr400(nameBody, request.body);
    const g = await createGroup(db, body.name, body.departmentId ?? null).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'group', id: g.id }, ip: request.ip, detail: { created: g.name, departmentId: g.departmentId } });
    return reply.status(201).send({ group: g });
  });

  app.post('/api/v1/org/groups/:id/members', async (request) => {
    const user = requireRole(request, ['admin']);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(memberBody, request.body);
    if (!(await findGroup(db, id))) throw new HttpError(404, 'not_found', `group ${id} does not exist`);
    if (!(await db.selectFrom('app_user').select('id').where('id', '=', body.userId).executeTakeFirst())) throw new HttpError(404, 'not_found', `user ${body.userId} does not exist`);
    await addGroupMember(db, id, body.userId);
    await audit.record({ actor: actorOf(user), action: 'role.change', target: { type: 'user', id: body.userId }, ip: request.ip, detail: { joinedGroup: id } });
    return { ok: true };
  });

  app.put('/api/v1/org/users/:id/department', async (request) => {
    const user = requireRole(request, ['admin']);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(userDeptBody, request.body);
    if (body.departmentId && !(await findDepartment(db, body.departmentId))) throw new HttpError(404, 'not_found', `department ${body.departmentId} does not exist`);
    if (!(await db.selectFrom('app_user').select('id').where('id', '=', id).executeTakeFirst())) throw new HttpError(404, 'not_found', `user ${id} does not exist`);
    await setUserDepartment(db, id, body.departmentId);
    await audit.record({ actor: actorOf(user), action: 'role.change', target: { type: 'user', id }, ip: request.ip, detail: { departmentId: body.departmentId } });
    return { ok: true };
  });
}
