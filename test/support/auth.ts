import { authenticator } from 'otplib';
import { CSRF, type TestServer } from './server.ts';

/** A JSON request as the console makes it: with the session cookie (when given) and the CSRF header. */
export async function api(t: TestServer, method: string, path: string, opts: { cookie?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.cookie) Object.assign(headers, { cookie: opts.cookie, ...CSRF });
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${t.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const json: any = await res.json().catch(() => null);
  return { status: res.status, body: json, headers: res.headers, cookie: res.headers.get('set-cookie')?.split(';')[0] };
}

export const signIn = (t: TestServer, login: string, password: string, headers?: Record<string, string>) => api(t, 'POST', '/api/v1/auth/login', { body: { login, password }, headers });

/** The code an authenticator app shows at `at`; `steps` later codes avoid reusing the step of a code already accepted. */
export function totpCode(secret: string, at = Date.now(), steps = 0): string {
  return authenticator.clone({ epoch: at + steps * 30_000 }).generate(secret);
}

/** A code that no authenticator shows right now (the real one, with its first digit changed). */
export function wrongCode(secret: string, at = Date.now()): string {
  const right = totpCode(secret, at);
  return `${(Number(right[0]) + 5) % 10}${right.slice(1)}`;
}

/** Password then code: a full session cookie for a user with two-factor on. */
export async function signInWithCode(t: TestServer, login: string, password: string, secret: string, steps = 1): Promise<string> {
  const first = await signIn(t, login, password);
  if (!first.body?.twoFactorRequired) throw new Error(`expected a second step, got ${first.status} ${JSON.stringify(first.body)}`);
  const second = await api(t, 'POST', '/api/v1/auth/login/2fa', { body: { challenge: first.body.challenge, code: totpCode(secret, Date.now(), steps) } });
  if (second.status !== 200) throw new Error(`second step refused: ${second.status} ${JSON.stringify(second.body)}`);
  return second.cookie!;
}

/** Turns two-factor on for a signed-in user through the API; returns the secret and the recovery codes. */
export async function enrol(t: TestServer, cookie: string, at = Date.now()): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await api(t, 'POST', '/api/v1/auth/2fa/setup', { cookie, body: {} });
  if (setup.status !== 200) throw new Error(`setup refused: ${setup.status} ${JSON.stringify(setup.body)}`);
  const confirm = await api(t, 'POST', '/api/v1/auth/2fa/confirm', { cookie, body: { code: totpCode(setup.body.secret, at) } });
  if (confirm.status !== 200) throw new Error(`confirm refused: ${confirm.status} ${JSON.stringify(confirm.body)}`);
  return { secret: setup.body.secret, recoveryCodes: confirm.body.recoveryCodes };
}
