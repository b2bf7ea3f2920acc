import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../store/index.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { actorOf, requireUser } from './http.ts';
import { listAudit, type AuditLog } from './audit.ts';
import { OrgError, addGroupMember, createDepartment, createGroup, deleteDepartment, deleteGroup, findDepartment, findGroup, groupChangeDetail, listDepartments, listGroups, removeGroupMember, renameDepartment, setUserDepartment, updateGroup } from './org.ts';
import { ORG_POLICY, mayOrg, type OrgAction } from './policies/org.ts';
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
const renameBody = z.object({ name: z.string().trim().min(1).max(50) }).strict();
const groupChangeBody = z
  .object({ name: z.string().trim().min(1).max(50).optional(), departmentId: z.string().min(1).max(100).nullable().optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.departmentId !== undefined, 'give a new name, a departmentId (null: no department), or both');
const memberBody = z.object({ userId: z.string().min(1).max(100) }).strict();
const userDeptBody = z.object({ departmentId: z.string().max(100).nullable() }).strict();
const idParams = z.object({ id: z.string().min(1).max(100) });
const memberParams = z.object({ id: z.string().min(1).max(100), userId: z.string().min(1).max(100) });

/** The organisation's one rule (policies/org.ts), asked by every org route. */
function requireOrg(request: Parameters<typeof requireUser>[0], action: OrgAction) {
  const user = requireUser(request);
  if (!mayOrg(user.role, action)) throw new HttpError(403, 'forbidden', `only ${ORG_POLICY[action].join(', ')} may ${action === 'manage' ? 'change departments, groups and memberships' : 'read the organisation'}`);
  return user;
}

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
    const viewer = requireOrg(request, 'read');
    const users = await db.selectFrom('app_user').select(['id', 'login', 'display_name', 'role', 'status', 'department_id']).orderBy('login').execute();
    const members = await db.selectFrom('group_member').selectAll().execute();
    return {
      departments: await listDepartments(db),
      groups: (await listGroups(db)).map((g) => ({ ...g, memberIds: members.filter((m) => m.group_id === g.id).map((m) => m.user_id) })),
      users: users.map((u) => ({ id: u.id, login: u.login, displayName: u.display_name, role: u.role, status: u.status, departmentId: u.department_id })),
      roles: ROLES,
      /** what the caller may do here, so the console offers only that */
      may: { manage: mayOrg(viewer.role, 'manage') },
    };
  });

  app.post('/api/v1/org/departments', async (request, reply) => {
    const user = requireOrg(request, 'manage');
    const body = parseOr400(nameBody, request.body);
    const d = await createDepartment(db, body.name).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'department', id: d.id }, ip: request.ip, detail: { created: d.name } });
    return reply.status(201).send({ department: d });
  });

  app.post('/api/v1/org/groups', async (request, reply) => {
    const user = requireOrg(request, 'manage');
    const body = parseOr400(nameBody, request.body);
    const g = await createGroup(db, body.name, body.departmentId ?? null).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'group', id: g.id }, ip: request.ip, detail: { created: g.name, departmentId: g.departmentId } });
    return reply.status(201).send({ group: g });
  });

  app.patch('/api/v1/org/departments/:id', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(renameBody, request.body);
    const { before, after } = await renameDepartment(db, id, body.name).catch(orgError);
    if (before.name !== after.name) await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'department', id }, ip: request.ip, detail: { renamed: { from: before.name, to: after.name } } });
    return { department: after };
  });

  app.delete('/api/v1/org/departments/:id', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const d = await deleteDepartment(db, id).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'department', id }, ip: request.ip, detail: { deleted: d.name } });
    return { ok: true };
  });

  app.patch('/api/v1/org/groups/:id', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(groupChangeBody, request.body);
    const { before, after } = await updateGroup(db, id, body).catch(orgError);
    const detail = groupChangeDetail(before, after);
    if (detail) await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'group', id }, ip: request.ip, detail });
    return { group: after };
  });

  app.delete('/api/v1/org/groups/:id', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const { group, memberIds } = await deleteGroup(db, id).catch(orgError);
    await audit.record({ actor: actorOf(user), action: 'config.change', target: { type: 'group', id }, ip: request.ip, detail: { deleted: group.name, members: memberIds } });
    return { ok: true };
  });

  app.post('/api/v1/org/groups/:id/members', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(memberBody, request.body);
    const group = await findGroup(db, id);
    if (!group) throw new HttpError(404, 'not_found', `group ${id} does not exist`);
    if (!(await db.selectFrom('app_user').select('id').where('id', '=', body.userId).executeTakeFirst())) throw new HttpError(404, 'not_found', `user ${body.userId} does not exist`);
    await addGroupMember(db, group.id, body.userId);
    await audit.record({ actor: actorOf(user), action: 'role.change', target: { type: 'user', id: body.userId }, ip: request.ip, detail: { joinedGroup: group.id } });
    return { ok: true };
  });

  app.delete('/api/v1/org/groups/:id/members/:userId', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id, userId } = parseOr400(memberParams, request.params);
    const group = await findGroup(db, id);
    if (!group) throw new HttpError(404, 'not_found', `group ${id} does not exist`);
    if (!(await removeGroupMember(db, group.id, userId))) throw new HttpError(404, 'not_found', `user ${userId} is not a member of group ${group.name}`);
    await audit.record({ actor: actorOf(user), action: 'role.change', target: { type: 'user', id: userId }, ip: request.ip, detail: { leftGroup: group.id } });
    return { ok: true };
  });

  app.put('/api/v1/org/users/:id/department', async (request) => {
    const user = requireOrg(request, 'manage');
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(userDeptBody, request.body);
    if (body.departmentId && !(await findDepartment(db, body.departmentId))) throw new HttpError(404, 'not_found', `department ${body.departmentId} does not exist`);
    if (!(await db.selectFrom('app_user').select('id').where('id', '=', id).executeTakeFirst())) throw new HttpError(404, 'not_found', `user ${id} does not exist`);
    await setUserDepartment(db, id, body.departmentId);
    await audit.record({ actor: actorOf(user), action: 'role.change', target: { type: 'user', id }, ip: request.ip, detail: { departmentId: body.departmentId } });
    return { ok: true };
  });
}
