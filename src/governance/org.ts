import type { Kysely } from 'kysely';
import { newId, type Database } from '../store/index.ts';

export interface Department {
  id: string;
  name: string;
}

export interface AgentGroup {
  id: string;
  name: string;
  departmentId: string | null;
}

export class OrgError extends Error {
  constructor(public readonly code: 'not_found' | 'name_taken' | 'in_use', message: string) {
    super(message);
  }
}

export async function createDepartment(db: Kysely<Database>, name: string): Promise<Department> {
  const existing = await db.selectFrom('department').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) throw new OrgError('name_taken', `a department named "${name}" already exists`);
  const id = newId('dep');
  await db.insertInto('department').values({ id, name, created_at: Date.now() }).execute();
  return { id, name };
}

export async function createGroup(db: Kysely<Database>, name: string, departmentId: string | null): Promise<AgentGroup> {
  const existing = await db.selectFrom('agent_group').select('id').where('name', '=', name).executeTakeFirst();
  if (existing) throw new OrgError('name_taken', `a group named "${name}" already exists`);
  if (departmentId && !(await db.selectFrom('department').select('id').where('id', '=', departmentId).executeTakeFirst())) {
    throw new OrgError('not_found', `department ${departmentId} does not exist`);
  }
  const id = newId('grp');
  await db.insertInto('agent_group').values({ id, name, department_id: departmentId, created_at: Date.now() }).execute();
  return { id, name, departmentId };
}

/** Renames a department; its groups and people stay where they are. */
export async function renameDepartment(db: Kysely<Database>, id: string, name: string): Promise<{ before: Department; after: Department }> {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('department').select(['id', 'name']).where('id', '=', id).executeTakeFirst();
    if (!before) throw new OrgError('not_found', `department ${id} does not exist`);
    const taken = await trx.selectFrom('department').select('id').where('name', '=', name).where('id', '<>', id).executeTakeFirst();
    if (taken) throw new OrgError('name_taken', `a department named "${name}" already exists`);
    await trx.updateTable('department').set({ name }).where('id', '=', id).execute();
    return { before, after: { id, name } };
  });
}

/**
 * Deletes an empty department. One that still has groups or people is refused rather than emptied: which groups a
 * department holds decides what its supervisors may read, so moving them is a choice an admin makes one by one.
 */
export async function deleteDepartment(db: Kysely<Database>, id: string): Promise<Department> {
  return db.transaction().execute(async (trx) => {
    const d = await trx.selectFrom('department').select(['id', 'name']).where('id', '=', id).executeTakeFirst();
    if (!d) throw new OrgError('not_found', `department ${id} does not exist`);
    const groups = await trx.selectFrom('agent_group').select('name').where('department_id', '=', id).orderBy('name').execute();
    const people = await trx.selectFrom('app_user').select('login').where('department_id', '=', id).orderBy('login').execute();
    if (groups.length > 0 || people.length > 0) {
      const parts = [groups.length > 0 ? `groups ${groups.map((g) => g.name).join(', ')}` : '', people.length > 0 ? `people ${people.map((u) => u.login).join(', ')}` : ''].filter(Boolean);
      throw new OrgError('in_use', `department ${d.name} still has ${parts.join(' and ')}; move them to another department first`);
    }
    await trx.deleteFrom('department').where('id', '=', id).execute();
    return d;
  });
}

/** Renames a group and/or moves it to another department (null: none). Returns the group before and after. */
export async function updateGroup(db: Kysely<Database>, id: string, change: { name?: string; departmentId?: string | null }): Promise<{ before: AgentGroup; after: AgentGroup }> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('agent_group').select(['id', 'name', 'department_id']).where('id', '=', id).executeTakeFirst();
    if (!r) throw new OrgError('not_found', `group ${id} does not exist`);
    const before: AgentGroup = { id: r.id, name: r.name, departmentId: r.department_id };
    const after: AgentGroup = { id, name: change.name ?? before.name, departmentId: change.departmentId === undefined ? before.departmentId : change.departmentId };
    if (after.name !== before.name && (await trx.selectFrom('agent_group').select('id').where('name', '=', after.name).where('id', '<>', id).executeTakeFirst())) {
      throw new OrgError('name_taken', `a group named "${after.name}" already exists`);
    }
    if (after.departmentId && !(await trx.selectFrom('department').select('id').where('id', '=', after.departmentId).executeTakeFirst())) {
      throw new OrgError('not_found', `department ${after.departmentId} does not exist`);
    }
    await trx.updateTable('agent_group').set({ name: after.name, department_id: after.departmentId }).where('id', '=', id).execute();
    return { before, after };
  });
}

/** What an updateGroup changed, as the audit trail records it; null when nothing did. */
export function groupChangeDetail(before: AgentGroup, after: AgentGroup): Record<string, unknown> | null {
  const detail: Record<string, unknown> = {};
  if (before.name !== after.name) detail.renamed = { from: before.name, to: after.name };
  // a move changes which supervisors may read the group's conversations
  if (before.departmentId !== after.departmentId) detail.moved = { from: before.departmentId, to: after.departmentId };
  return Object.keys(detail).length > 0 ? detail : null;
}

/**
 * Deletes a group that no conversation and no retention rule names, with its memberships (returned, for the audit
 * trail). A group with conversations stays: reports, searches and retention rules go by it for as long as they exist.
 */
export async function deleteGroup(db: Kysely<Database>, id: string): Promise<{ group: AgentGroup; memberIds: string[] }> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('agent_group').select(['id', 'name', 'department_id']).where('id', '=', id).executeTakeFirst();
    if (!r) throw new OrgError('not_found', `group ${id} does not exist`);
    const conversations = Number((await trx.selectFrom('conversation').select((eb) => eb.fn.countAll().as('n')).where('group_id', '=', id).executeTakeFirstOrThrow()).n);
    const rules = await trx.selectFrom('retention_policy').select('name').where('group_id', '=', id).orderBy('name').execute();
    if (conversations > 0 || rules.length > 0) {
      const parts = [conversations > 0 ? `${conversations} conversation${conversations === 1 ? '' : 's'}` : '', rules.length > 0 ? `retention rule${rules.length === 1 ? '' : 's'} ${rules.map((x) => x.name).join(', ')}` : ''].filter(Boolean);
      throw new OrgError('in_use', `group ${r.name} is named by ${parts.join(' and ')}; it can be renamed, but not deleted`);
    }
    const members = await trx.selectFrom('group_member').select('user_id').where('group_id', '=', id).orderBy('user_id').execute();
    await trx.deleteFrom('group_member').where('group_id', '=', id).execute();
    await trx.deleteFrom('agent_group').where('id', '=', id).execute();
    return { group: { id: r.id, name: r.name, departmentId: r.department_id }, memberIds: members.map((m) => m.user_id) };
  });
}

export async function addGroupMember(db: Kysely<Database>, groupId: string, userId: string): Promise<void> {
  await db.insertInto('group_member').values({ group_id: groupId, user_id: userId }).onConflict((oc) => oc.doNothing()).execute();
}

/** Takes a user out of a group; false when they were not in it. */
export async function removeGroupMember(db: Kysely<Database>, groupId: string, userId: string): Promise<boolean> {
  const r = await db.deleteFrom('group_member').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function setUserDepartment(db: Kysely<Database>, userId: string, departmentId: string | null): Promise<void> {
  await db.updateTable('app_user').set({ department_id: departmentId }).where('id', '=', userId).execute();
}

export async function listDepartments(db: Kysely<Database>): Promise<Department[]> {
  return db.selectFrom('department').select(['id', 'name']).orderBy('name').execute();
}

export async function listGroups(db: Kysely<Database>): Promise<AgentGroup[]> {
  const rows = await db.selectFrom('agent_group').select(['id', 'name', 'department_id']).orderBy('name').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, departmentId: r.department_id }));
}

export async function groupIdsOf(db: Kysely<Database>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('group_member').select('group_id').where('user_id', '=', userId).execute();
  return rows.map((r) => r.group_id);
}

/** group → department, for routing live events to the supervisors of a department */
export async function groupDepartments(db: Kysely<Database>): Promise<Map<string, string | null>> {
  const rows = await db.selectFrom('agent_group').select(['id', 'department_id']).execute();
  return new Map(rows.map((r) => [r.id, r.department_id]));
}

/** Resolves a group or department given by id or by name. */
export async function findGroup(db: Kysely<Database>, idOrName: string): Promise<AgentGroup | undefined> {
  const r = await db.selectFrom('agent_group').select(['id', 'name', 'department_id']).where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
  return r && { id: r.id, name: r.name, departmentId: r.department_id };
}

export async function findDepartment(db: Kysely<Database>, idOrName: string): Promise<Department | undefined> {
  return db.selectFrom('department').select(['id', 'name']).where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
}
