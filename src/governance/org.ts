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
  constructor(public readonly code: 'not_found' | 'name_taken', message: string) {
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
