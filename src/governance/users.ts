import { hash, verify } from '@node-rs/argon2';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { inChunks, newId, type Database } from '../store/index.ts';
import { COMMON_PASSWORDS } from './common-passwords.ts';

export const ROLES = ['agent', 'supervisor', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  login: string;
  displayName: string;
  role: Role;
  status: 'active' | 'disabled';
  departmentId: string | null;
}

export const loginSchema = z.string().trim().min(2, 'login must have at least 2 characters').max(64).regex(/^[A-Za-z0-9._@-]+$/, 'login may use letters, digits and . _ @ -');

export const passwordSchema = z.string().min(10, 'password must have at least 10 characters').max(256, 'password may have at most 256 characters');

/**
 * The password rules, for new accounts and changed passwords alike: at least 10 characters, not one of the passwords
 * attackers try first, not one character repeated, and not the login itself (or the login with a few characters added).
 * Returns what is wrong, or null.
 */
export function passwordProblem(password: string, login: string): string | null {
  const length = passwordSchema.safeParse(password);
  if (!length.success) return length.error.issues[0]!.message;
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return 'this password is among the most common ones; choose another';
  if (new Set(lower).size === 1) return 'password must not be one character repeated';
  const name = login.trim().toLowerCase();
  if (name.length > 0 && lower.split(name).join('').length < 6) return 'password must not be the login or be built on it';
  return null;
}

// argon2id with OWASP's second recommended parameter set (19 MiB, 2 passes)
const ARGON_OPTS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function userFromRow(r: Pick<Database['app_user'], 'id' | 'login' | 'display_name' | 'role' | 'status' | 'department_id'>): User {
  return { id: r.id, login: r.login, displayName: r.display_name, role: r.role, status: r.status, departmentId: r.department_id };
}

export class UserError extends Error {
  constructor(public readonly code: 'login_taken' | 'invalid' | 'not_found', message: string) {
    super(message);
  }
}

export async function createUser(db: Kysely<Database>, input: { login: string; password: string; role: Role; displayName?: string; departmentId?: string | null }): Promise<User> {
  const login = loginSchema.safeParse(input.login);
  if (!login.success) throw new UserError('invalid', login.error.issues[0]!.message);
  const pwProblem = passwordProblem(input.password, login.data);
  if (pwProblem) throw new UserError('invalid', pwProblem);
  if (!ROLES.includes(input.role)) throw new UserError('invalid', `role must be one of ${ROLES.join(', ')}`);
  const existing = await db.selectFrom('app_user').select('id').where('login', '=', login.data).executeTakeFirst();
  if (existing) throw new UserError('login_taken', `a user with login "${login.data}" already exists`);
  const row: Database['app_user'] = {
    id: newId('usr'),
    login: login.data,
    display_name: input.displayName ?? login.data,
    password_hash: await hash(input.password, ARGON_OPTS),
    role: input.role,
    status: 'active',
    department_id: input.departmentId ?? null,
    created_at: Date.now(),
  };
  await db.insertInto('app_user').values(row).execute();
  return userFromRow(row);
}

export async function getUser(db: Kysely<Database>, id: string): Promise<User | undefined> {
  const r = await db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
  return r && userFromRow(r);
}

// verifying against a real hash keeps an unknown login as slow as a wrong password
let dummyHash: Promise<string> | null = null;

/** The user when login and password match an active account, otherwise undefined. */
export async function checkPassword(db: Kysely<Database>, login: string, password: string): Promise<User | undefined> {
  const r = await db.selectFrom('app_user').selectAll().where('login', '=', login).executeTakeFirst();
  if (!r) {
    dummyHash ??= hash('kefu-timing-equaliser', ARGON_OPTS);
    await verify(await dummyHash, password).catch(() => false);
    return undefined;
  }
  const ok = await verify(r.password_hash, password).catch(() => false);
  if (!ok || r.status !== 'active') return undefined;
  return userFromRow(r);
}

export async function countUsers(db: Kysely<Database>): Promise<number> {
  const r = await db.selectFrom('app_user').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function findUserByLogin(db: Kysely<Database>, login: string): Promise<User | undefined> {
  const r = await db.selectFrom('app_user').selectAll().where('login', '=', login).executeTakeFirst();
  return r && userFromRow(r);
}

/** True when the password is the user's current one (the account may be disabled: this only checks the password). */
export async function verifyUserPassword(db: Kysely<Database>, userId: string, password: string): Promise<boolean> {
  const r = await db.selectFrom('app_user').select('password_hash').where('id', '=', userId).executeTakeFirst();
  return r ? verify(r.password_hash, password).catch(() => false) : false;
}

/** Replaces a password after checking the password rules. */
export async function setPassword(db: Kysely<Database>, user: Pick<User, 'id' | 'login'>, password: string): Promise<void> {
  const problem = passwordProblem(password, user.login);
  if (problem) throw new UserError('invalid', problem);
  await db.updateTable('app_user').set({ password_hash: await hash(password, ARGON_OPTS) }).where('id', '=', user.id).execute();
}

export async function setUserStatus(db: Kysely<Database>, userId: string, status: User['status']): Promise<void> {
  await db.updateTable('app_user').set({ status }).where('id', '=', userId).execute();
}

/** staff login → user id, for the logins that exist */
export async function usersByLogin(db: Kysely<Database>, logins: readonly string[]): Promise<Map<string, string>> {
  const rows = await inChunks(logins, (chunk) => db.selectFrom('app_user').select(['id', 'login']).where('login', 'in', chunk).execute());
  return new Map(rows.map((r) => [r.login, r.id]));
}
