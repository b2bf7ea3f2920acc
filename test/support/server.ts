import { io as connect, type Socket } from 'socket.io-client';
import { authenticator } from 'otplib';
import { createServer, type KefuServer } from '../../src/server/app.ts';
import { loadConfig } from '../../src/server/config.ts';
import { createUser, type AuthPolicy, type Role } from '../../src/governance/index.ts';
import type { DialectName } from '../../src/store/index.ts';
import { createLogger } from '../../src/server/logger.ts';
import { freshDatabase } from './databases.ts';

/** The header every cookie-authenticated write needs (CSRF protection; the console sends it). */
export const CSRF = { 'x-kefu-csrf': '1' } as const;

export interface TestServer {
  server: KefuServer;
  url: string;
  dataDir: string;
  databaseUrl?: string;
  /** creates a staff account and returns a session cookie for it (auditors and admins enrol in 2FA on the way, by the real clock) */
  login(login: string, role?: Role): Promise<string>;
  /** TOTP secrets of the accounts login() enrolled, by login */
  totpSecrets: Map<string, string>;
  customer(auth?: { visitorToken?: string }): Socket;
  agent(cookie: string): Socket;
  close(): Promise<void>;
}

/** A real kefu server on a free loopback port with a fresh database of the dialect. */
export async function startTestServer(dialect: DialectName = 'sqlite', opts: { authPolicy?: Partial<AuthPolicy>; env?: Record<string, string> } = {}): Promise<TestServer> {
  const db = await freshDatabase(dialect);
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl, KEFU_LOG_LEVEL: 'warn', ...opts.env });
  const server = await createServer(config, { logger: createLogger(process.env.KEFU_TEST_LOG ?? 'silent'), authPolicy: opts.authPolicy });
  const port = await server.listen();
  const url = `http://127.0.0.1:${port}`;
  const sockets: Socket[] = [];
  const totpSecrets = new Map<string, string>();
  return {
    totpSecrets,
    server,
    url,
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    async login(login, role = 'agent') {
      const password = `pw-${login}-0123456789`;
      await createUser(server.store.db, { login, password, role });
      const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }) });
      if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      if ((await res.json()).twoFactorEnrolmentRequired) {
        // roles that need a second factor get a full session only once they have enrolled
        const headers = { cookie, 'content-type': 'application/json', ...CSRF };
        const setup = await (await fetch(`${url}/api/v1/auth/2fa/setup`, { method: 'POST', headers, body: '{}' })).json();
        const confirm = await fetch(`${url}/api/v1/auth/2fa/confirm`, { method: 'POST', headers, body: JSON.stringify({ code: authenticator.generate(setup.secret) }) });
        if (confirm.status !== 200) throw new Error(`2FA enrolment failed: ${confirm.status}`);
        totpSecrets.set(login, setup.secret);
      }
      return cookie;
    },
    customer(auth = {}) {
      const s = connect(`${url}/customer`, { auth, transports: ['websocket'], forceNew: true });
      sockets.push(s);
      return s;
    },
    agent(cookie) {
      const s = connect(`${url}/agent`, { extraHeaders: { cookie }, transports: ['websocket'], forceNew: true });
      sockets.push(s);
      return s;
    },
    async close() {
      for (const s of sockets) s.disconnect();
      await server.close();
      await db.drop();
    },
  };
}

/** emits with an ack and resolves with the server's reply */
export function call<T = any>(socket: Socket, event: string, payload: unknown, timeoutMs = 5000): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

export function nextEvent<T = any>(socket: Socket, event: string, predicate: (p: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (p: T) => {
      if (!predicate(p)) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve(p);
    };
    socket.on(event, on);
  });
}

export function connected(socket: Socket): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(e));
  });
}
