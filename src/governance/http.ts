import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { SESSION_COOKIE, SESSION_TTL_MS, createSession, revokeSession, userForSession } from './sessions.ts';
import { checkPassword, type User } from './users.ts';
import type { AuditLog, AuditActor } from './audit.ts';
import { viewerOf, type Viewer } from './policies/conversations.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user?: User;
  }
}

const loginBody = z.object({ login: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();

/** Resolves the session cookie into request.user; routes that need a user call requireUser. */
export function sessionHook(db: Kysely<Database>) {
  return async (request: FastifyRequest) => {
    if (!request.url.startsWith('/api/')) return;
    request.user = await userForSession(db, request.cookies[SESSION_COOKIE]);
  };
}

export function requireUser(request: FastifyRequest): User {
  if (!request.user) throw new HttpError(401, 'unauthorized', 'log in first (POST /api/v1/auth/login)');
  return request.user;
}

/** The logged-in user with what decides their scope (groups, department). */
export async function requireViewer(db: Kysely<Database>, request: FastifyRequest): Promise<Viewer> {
  return viewerOf(db, requireUser(request));
}

export function presentUser(u: User) {
  return { id: u.id, login: u.login, displayName: u.displayName, role: u.role };
}

export function actorOf(u: { id: string; login: string; role: string }): AuditActor {
  return { id: u.id, login: u.login, role: u.role };
}

export function registerAuthRoutes(app: FastifyInstance, db: Kysely<Database>, audit: AuditLog, opts: { secureCookies: boolean }) {
  app.post('/api/v1/auth/login', async (request, reply) => {
    const body = parseOr400(loginBody, request.body);
    const user = await checkPassword(db, body.login, body.password);
    if (!user) {
      await audit.record({ actor: { id: null, login: body.login, role: null }, action: 'login_failed', ip: request.ip });
      throw new HttpError(401, 'bad_credentials', 'login or password is wrong');
    }
    await audit.record({ actor: actorOf(user), action: 'login', ip: request.ip });
    const session = await createSession(db, user.id);
    reply.setCookie(SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: opts.secureCookies,
      path: '/',
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return { user: presentUser(user), expiresAt: new Date(session.expiresAt).toISOString() };
  });

  app.post('/api/v1/auth/logout', async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) await revokeSession(db, token);
    if (request.user) await audit.record({ actor: actorOf(request.user), action: 'logout', ip: request.ip });
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/v1/auth/me', async (request) => ({ user: presentUser(requireUser(request)) }));
}
