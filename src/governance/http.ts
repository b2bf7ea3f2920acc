import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import QRCode from 'qrcode';
import type { Database } from '../store/index.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import {
  SESSION_COOKIE,
  closeLoginChallenge,
  createLoginChallenge,
  createSession,
  failLoginChallenge,
  listSessions,
  lookupSession,
  openLoginChallenge,
  revokeSession,
  revokeSessionById,
  revokeUserSessions,
  type SessionEndings,
  type SessionScope,
} from './sessions.ts';
import { ROLES, UserError, checkPassword, getUser, setPassword, verifyUserPassword, type User } from './users.ts';
import type { AuditLog, AuditActor } from './audit.ts';
import { viewerOf, type Viewer } from './policies/conversations.ts';
import { ALWAYS_TWO_FACTOR, DEFAULT_AUTH_POLICY, PolicyError, authPolicy, setTwoFactorRequiredRoles, twoFactorRequiredRoles, type AuthPolicy } from './auth-policy.ts';
import { clearFailures, ipKey, lockedUntil, loginKey, recordFailure } from './login-throttle.ts';
import { SecretBox } from './totp.ts';
import {
  TwoFactorError,
  beginEnrolment,
  checkSecondFactor,
  confirmEnrolment,
  disableTwoFactor,
  regenerateRecoveryCodes,
  sealStoredSecrets,
  twoFactorStatus,
} from './two-factor.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user?: User;
    /** the session the request came with; scope "enrolment" reaches only the 2FA setup routes */
    authSession?: { id: string; scope: SessionScope; twoFactorEnabled: boolean };
  }
}

/**
 * CSRF: every cookie-authenticated request that changes something must carry this header. A page of another site can
 * make the browser send our cookie (SameSite=Lax still allows it from sibling subdomains), but it cannot add a custom
 * header without a CORS preflight, which kefu never grants. Login needs none: it has no session yet and takes JSON only.
 */
export const CSRF_HEADER = 'x-kefu-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CSRF_EXEMPT = new Set(['POST /api/v1/auth/login', 'POST /api/v1/auth/login/2fa']);

/** All a session restricted to enrolment may do: see who it is, leave or sign in anew, and set up the second factor. */
const ENROLMENT_ROUTES = new Set([
  'GET /api/v1/auth/me',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/login/2fa',
  'GET /api/v1/auth/2fa',
  'POST /api/v1/auth/2fa/setup',
  'POST /api/v1/auth/2fa/confirm',
]);

const loginBody = z.object({ login: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();
const secondFactorBody = z
  .object({ challenge: z.string().min(1).max(100), code: z.string().min(1).max(20).optional(), recoveryCode: z.string().min(1).max(64).optional() })
  .strict()
  .refine((b) => (b.code === undefined) !== (b.recoveryCode === undefined), 'give either code or recoveryCode');
const codeBody = z.object({ code: z.string().min(1).max(20) }).strict();
const passwordBody = z.object({ current: z.string().min(1).max(256), next: z.string().min(1).max(1000) }).strict();
const rolesBody = z.object({ roles: z.array(z.enum(ROLES)).max(ROLES.length) }).strict();
const idParams = z.object({ id: z.string().min(1).max(100) });

function routeKey(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
}

/** Resolves the session cookie into request.user, refuses cross-site writes, and holds enrolment-only sessions to enrolment. */
export function sessionHook(db: Kysely<Database>, policy: Pick<AuthPolicy, 'now'> = DEFAULT_AUTH_POLICY) {
  return async (request: FastifyRequest) => {
    if (!request.url.startsWith('/api/')) return;
    const token = request.cookies[SESSION_COOKIE];
    const key = routeKey(request);
    if (token && !SAFE_METHODS.has(request.method) && !CSRF_EXEMPT.has(key) && !request.headers[CSRF_HEADER]) {
      throw new HttpError(403, 'csrf_header_missing', `requests that change something need the header ${CSRF_HEADER}: 1 (the console sends it)`);
    }
    const live = await lookupSession(db, token, policy.now());
    if (!live) return;
    request.user = live.user;
    request.authSession = { id: live.session.id, scope: live.scope, twoFactorEnabled: live.twoFactorEnabled };
    if (live.scope === 'enrolment' && !ENROLMENT_ROUTES.has(key)) {
      throw new HttpError(403, 'two_factor_enrolment_required', `your role (${live.user.role}) signs in with two-factor authentication: set it up first (POST /api/v1/auth/2fa/setup)`);
    }
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

export interface AuthRouteOptions {
  secureCookies: boolean;
  /** KEFU_SECRET_KEY: encrypts TOTP secrets at rest */
  secretKey?: string;
  policy?: Partial<AuthPolicy>;
  log?: { warn(msg: string): void; error(msg: string): void };
  /** told of every session this process ends, so open sockets of those sessions are closed at once */
  sessionEndings?: SessionEndings;
}

const iso = (t: number) => new Date(t).toISOString();

function twoFactorError(err: unknown): never {
  if (err instanceof TwoFactorError) throw new HttpError(err.code === 'bad_code' ? 400 : 409, err.code, err.message);
  throw err;
}

export async function registerAuthRoutes(app: FastifyInstance, db: Kysely<Database>, audit: AuditLog, opts: AuthRouteOptions) {
  const policy = authPolicy(opts.policy);
  const ended = () => opts.sessionEndings?.notify();
  const box = new SecretBox(opts.secretKey);
  const sealed = await sealStoredSecrets(db, box);
  if (!box.encrypts) {
    opts.log?.warn('KEFU_SECRET_KEY is not set: two-factor secrets are stored unencrypted in the database (see docs/SECURITY.md)');
  } else if (sealed.unreadable > 0) {
    opts.log?.error(`${sealed.unreadable} two-factor secret(s) do not decrypt with this KEFU_SECRET_KEY: those users cannot sign in until it is the key they were stored under, or their 2FA is reset (kefu user 2fa-reset)`);
  }

  const setSessionCookie = (reply: FastifyReply, token: string, expiresAt: number) =>
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: opts.secureCookies,
      path: '/',
      maxAge: Math.max(0, Math.floor((expiresAt - policy.now()) / 1000)),
    });

  const tooManyAttempts = (reply: FastifyReply, until: number) => {
    const seconds = Math.max(1, Math.ceil((until - policy.now()) / 1000));
    const minutes = Math.ceil(seconds / 60);
    return reply
      .status(429)
      .header('retry-after', String(seconds))
      .send({ error: { code: 'too_many_attempts', message: `too many failed sign-ins: locked for ${minutes} more minute${minutes === 1 ? '' : 's'}; try again after ${iso(until)}`, retryAfterSeconds: seconds } });
  };

  /** Audits a failed sign-in and counts it against the login and the address; returns the lock it started, if any. */
  const signInFailed = async (request: FastifyRequest, login: string, actor: AuditActor, reason: string): Promise<number | null> => {
    const now = policy.now();
    await audit.record({ actor, action: 'login_failed', ip: request.ip, detail: { reason } });
    let until: number | null = null;
    const counters = [
      { key: loginKey(login), rule: policy.perLogin, target: { type: 'login', id: login } },
      { key: ipKey(request.ip), rule: policy.perIp, target: { type: 'ip', id: request.ip } },
    ];
    for (const c of counters) {
      const lock = await recordFailure(db, c.key, c.rule, now);
      if (!lock) continue;
      await audit.record({
        actor,
        action: 'auth.lockout',
        target: c.target,
        ip: request.ip,
        detail: { failures: lock.failures, windowMinutes: c.rule.windowMs / 60_000, lockedUntil: iso(lock.lockedUntil) },
      });
      until = Math.max(until ?? 0, lock.lockedUntil);
    }
    return until;
  };

  /** Sign-in complete: a session, its cookie, the audit event. A role that needs 2FA without it gets an enrolment-only session. */
  const startSession = async (request: FastifyRequest, reply: FastifyReply, user: User, secondFactor: 'totp' | 'recovery_code' | null) => {
    const now = policy.now();
    const s = await createSession(db, user.id, { ttlMs: policy.sessionTtlMs, idleMs: policy.idleTimeoutMs, ip: request.ip, userAgent: request.headers['user-agent'], now });
    setSessionCookie(reply, s.token, s.expiresAt);
    const enrolmentRequired = secondFactor === null && (await twoFactorRequiredRoles(db)).includes(user.role);
    await clearFailures(db, loginKey(user.login));
    const detail: Record<string, unknown> = {};
    if (secondFactor) detail.secondFactor = secondFactor;
    if (enrolmentRequired) detail.twoFactorEnrolmentRequired = true;
    await audit.record({ actor: actorOf(user), action: 'login', ip: request.ip, detail });
    return { user: presentUser(user), expiresAt: iso(s.expiresAt), ...(enrolmentRequired ? { twoFactorEnrolmentRequired: true } : {}) };
  };

  const requireAdmin = (request: FastifyRequest): User => {
    const user = requireUser(request);
    if (user.role !== 'admin') throw new HttpError(403, 'forbidden', 'this needs the admin role');
    return user;
  };

  app.post('/api/v1/auth/login', async (request, reply) => {
    const body = parseOr400(loginBody, request.body);
    // a locked login or address is refused before the password is even checked, so guessing on is pointless
    const locked = await lockedUntil(db, [loginKey(body.login), ipKey(request.ip)], policy.now());
    if (locked) return tooManyAttempts(reply, locked);
    const user = await checkPassword(db, body.login, body.password);
    if (!user) {
      const lock = await signInFailed(request, body.login, { id: null, login: body.login, role: null }, 'bad_password');
      if (lock) return tooManyAttempts(reply, lock);
      throw new HttpError(401, 'bad_credentials', 'login or password is wrong');
    }
    if ((await twoFactorStatus(db, user.id)).enabled) {
      // no session yet, and the failure count stays: only the second factor completes (and clears) the sign-in
      const c = await createLoginChallenge(db, user.id, policy.challengeTtlMs, policy.now());
      return { twoFactorRequired: true, challenge: c.challenge, expiresAt: iso(c.expiresAt) };
    }
    return startSession(request, reply, user, null);
  });

  app.post('/api/v1/auth/login/2fa', async (request, reply) => {
    const body = parseOr400(secondFactorBody, request.body);
    const open = await openLoginChallenge(db, body.challenge, policy.now());
    const user = open && (await getUser(db, open.userId));
    if (!open || !user || user.status !== 'active') throw new HttpError(401, 'challenge_expired', 'the sign-in took too long or had too many wrong codes: enter the password again');
    const locked = await lockedUntil(db, [loginKey(user.login), ipKey(request.ip)], policy.now());
    if (locked) return tooManyAttempts(reply, locked);
    const method = await checkSecondFactor(db, box, user.id, body, policy.now());
    if (!method) {
      const left = await failLoginChallenge(db, body.challenge, policy.challengeAttempts);
      const lock = await signInFailed(request, user.login, actorOf(user), body.code !== undefined ? 'bad_totp_code' : 'bad_recovery_code');
      if (lock) return tooManyAttempts(reply, lock);
      if (left === 0) throw new HttpError(401, 'challenge_expired', 'too many wrong codes: enter the password again');
      throw new HttpError(401, 'bad_code', body.code !== undefined ? 'the code is wrong or was already used: enter the current code from the app' : 'this recovery code is wrong or was already used');
    }
    if (!(await closeLoginChallenge(db, body.challenge))) throw new HttpError(401, 'challenge_expired', 'this sign-in was already completed or has expired: enter the password again');
    const result = await startSession(request, reply, user, method);
    if (method === 'recovery_code') return { ...result, recoveryCodesLeft: (await twoFactorStatus(db, user.id)).recoveryCodesLeft };
    return result;
  });

  app.post('/api/v1/auth/logout', async (request, reply) => {
    const token = request.cookies[SESSION_COOKIE];
    if (token) {
      await revokeSession(db, token);
      ended();
    }
    if (request.user) await audit.record({ actor: actorOf(request.user), action: 'logout', ip: request.ip });
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.get('/api/v1/auth/me', async (request) => {
    const user = requireUser(request);
    const enrolment = request.authSession?.scope === 'enrolment';
    return { user: presentUser(user), twoFactorEnabled: request.authSession?.twoFactorEnabled ?? false, ...(enrolment ? { twoFactorEnrolmentRequired: true } : {}) };
  });

  // ---- two-factor: status, enrolment, recovery codes, turning it off ----

  app.get('/api/v1/auth/2fa', async (request) => {
    const user = requireUser(request);
    const status = await twoFactorStatus(db, user.id);
    const required = (await twoFactorRequiredRoles(db)).includes(user.role);
    return { enabled: status.enabled, enabledAt: status.enabledAt === null ? null : iso(status.enabledAt), recoveryCodesLeft: status.recoveryCodesLeft, required };
  });

  app.post('/api/v1/auth/2fa/setup', async (request) => {
    const user = requireUser(request);
    const { secret, otpauthUri } = await beginEnrolment(db, box, user).catch(twoFactorError);
    const qrDataUrl = await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M', margin: 1, width: 220 });
    return { otpauthUri, qrDataUrl, secret };
  });

  app.post('/api/v1/auth/2fa/confirm', async (request) => {
    const user = requireUser(request);
    const body = parseOr400(codeBody, request.body);
    const recoveryCodes = await confirmEnrolment(db, box, user.id, body.code, policy.now()).catch(twoFactorError);
    await audit.record({ actor: actorOf(user), action: 'auth.2fa_enrol', target: { type: 'user', id: user.id }, ip: request.ip });
    // the session that enrolled is now a full one: it has just shown the second factor
    return { recoveryCodes };
  });

  app.post('/api/v1/auth/2fa/recovery-codes', async (request) => {
    const user = requireUser(request);
    const body = parseOr400(codeBody, request.body);
    const recoveryCodes = await regenerateRecoveryCodes(db, box, user.id, body.code, policy.now()).catch(twoFactorError);
    await audit.record({ actor: actorOf(user), action: 'auth.2fa_recovery_codes', target: { type: 'user', id: user.id }, ip: request.ip });
    return { recoveryCodes };
  });

  app.post('/api/v1/auth/2fa/disable', async (request) => {
    const user = requireUser(request);
    const body = parseOr400(codeBody, request.body);
    if ((await twoFactorRequiredRoles(db)).includes(user.role)) {
      throw new HttpError(403, 'two_factor_required', `your role (${user.role}) must sign in with two-factor authentication; it cannot be turned off`);
    }
    await disableTwoFactor(db, box, user.id, body.code, policy.now()).catch(twoFactorError);
    await audit.record({ actor: actorOf(user), action: 'auth.2fa_disable', target: { type: 'user', id: user.id }, ip: request.ip });
    return { ok: true };
  });

  // ---- sessions and password ----

  app.get('/api/v1/auth/sessions', async (request) => {
    const user = requireUser(request);
    const sessions = await listSessions(db, user.id, policy.now());
    return {
      sessions: sessions.map((s) => ({
        id: s.id,
        current: s.id === request.authSession?.id,
        createdAt: iso(s.createdAt),
        lastSeenAt: iso(s.lastSeenAt),
        expiresAt: iso(s.expiresAt),
        ip: s.ip,
        userAgent: s.userAgent,
      })),
    };
  });

  app.delete('/api/v1/auth/sessions/:id', async (request, reply) => {
    const user = requireUser(request);
    const { id } = parseOr400(idParams, request.params);
    if (!(await revokeSessionById(db, user.id, id, policy.now()))) throw new HttpError(404, 'not_found', `you have no live session ${id}`);
    ended();
    await audit.record({ actor: actorOf(user), action: 'auth.session_revoke', target: { type: 'session', id }, ip: request.ip, detail: { userId: user.id } });
    if (id === request.authSession?.id) reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.post('/api/v1/auth/password', async (request, reply) => {
    const user = requireUser(request);
    const body = parseOr400(passwordBody, request.body);
    // a stolen session must not become a way to guess the password without limit: wrong ones count as failed sign-ins
    const locked = await lockedUntil(db, [loginKey(user.login)], policy.now());
    if (locked) return tooManyAttempts(reply, locked);
    if (!(await verifyUserPassword(db, user.id, body.current))) {
      const lock = await signInFailed(request, user.login, actorOf(user), 'bad_current_password');
      if (lock) return tooManyAttempts(reply, lock);
      throw new HttpError(403, 'wrong_password', 'the current password is wrong');
    }
    if (body.next === body.current) throw new HttpError(400, 'weak_password', 'the new password must differ from the current one');
    await setPassword(db, user, body.next).catch((err: unknown) => {
      if (err instanceof UserError) throw new HttpError(400, 'weak_password', err.message);
      throw err;
    });
    // whoever else knew the old password is signed out everywhere; this browser stays signed in
    const revoked = await revokeUserSessions(db, user.id, { except: request.authSession?.id, now: policy.now() });
    ended();
    await audit.record({ actor: actorOf(user), action: 'auth.password_change', target: { type: 'user', id: user.id }, ip: request.ip, detail: { revokedSessions: revoked } });
    return { ok: true, revokedSessions: revoked };
  });

  // ---- admin ----

  app.get('/api/v1/admin/settings/2fa', async (request) => {
    requireAdmin(request);
    return { roles: await twoFactorRequiredRoles(db), alwaysRequired: ALWAYS_TWO_FACTOR };
  });

  app.put('/api/v1/admin/settings/2fa', async (request) => {
    const admin = requireAdmin(request);
    const body = parseOr400(rolesBody, request.body);
    const change = await setTwoFactorRequiredRoles(db, body.roles).catch((err: unknown) => {
      if (err instanceof PolicyError) throw new HttpError(400, 'invalid_request', err.message);
      throw err;
    });
    // sessions of the roles that now need a second factor, and have none, are held to enrolment: their sockets close
    ended();
    await audit.record({ actor: actorOf(admin), action: 'config.change', target: { type: 'setting', id: 'twoFactorRequiredRoles' }, ip: request.ip, detail: change });
    return { roles: change.to, alwaysRequired: ALWAYS_TWO_FACTOR };
  });

  app.delete('/api/v1/admin/users/:id/sessions', async (request) => {
    const admin = requireAdmin(request);
    const { id } = parseOr400(idParams, request.params);
    const target = await getUser(db, id);
    if (!target) throw new HttpError(404, 'not_found', `user ${id} does not exist`);
    const revoked = await revokeUserSessions(db, id, { now: policy.now() });
    ended();
    await audit.record({ actor: actorOf(admin), action: 'auth.session_revoke', target: { type: 'user', id }, ip: request.ip, detail: { login: target.login, revokedSessions: revoked } });
    return { revoked };
  });
}
