import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { Server as SocketServer } from 'socket.io';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { openStore, type Store } from '../store/index.ts';
import { registerSearchCatchUp } from '../store/dialect/search.ts';
import { ConversationUpdates, MessageAppender, SqliteAppendThread, attachGateway, registerConversationRoutes } from '../conversations/index.ts';
import { registerAuthRoutes, sessionHook } from '../governance/http.ts';
import { authPolicy, type AuthPolicy } from '../governance/auth-policy.ts';
import { SessionEndings } from '../governance/sessions.ts';
import { AuditLog } from '../governance/audit.ts';
import { registerGrantRoutes } from '../governance/grants-http.ts';
import { registerAdminRoutes } from '../governance/admin-http.ts';
import { registerArchiveRoutes } from '../archive/index.ts';
import { registerExportRoutes } from '../archive/index.ts';
import { demoPageHtml } from '../channels/demo-page.ts';
import type { Config } from './config.ts';
import { errorHandler } from './http-errors.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { startSchedules } from './schedules.ts';
import { coalesceSocketWrites } from './write-coalescing.ts';

export const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WEB_DIST = path.join(ROOT_DIR, 'dist/web');
export const WIDGET_DIST = path.join(ROOT_DIR, 'dist/widget');

export interface KefuServer {
  app: FastifyInstance;
  io: SocketServer;
  store: Store;
  appender: MessageAppender;
  audit: AuditLog;
  log: Logger;
  routes: ReadonlyArray<{ method: string; url: string }>;
  /** listens on config.port (0 = any free port) and returns the port */
  listen(): Promise<number>;
  /** stops accepting, lets in-flight writes finish, closes the database */
  close(): Promise<void>;
}

export async function createServer(config: Config, opts: { store?: Store; logger?: Logger; authPolicy?: Partial<AuthPolicy> } = {}): Promise<KefuServer> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const store = opts.store ?? (await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  store.checkpointInBackground((message) => log.error({ message }, 'WAL checkpoint failed'));
  // embedded SQLite: messages are committed on a writer thread, so the sockets are served while the database works
  const writer = store.sqlitePath ? new SqliteAppendThread(store.sqlitePath, (message) => log.error({ message }, 'message writer')) : undefined;
  if (writer) {
    store.shareWriteLock(writer);
    registerSearchCatchUp(store.db, () => writer.catchUpSearchIndex());
  }
  const appender = new MessageAppender(store.db, store.dialect, { writer });
  const updates = new ConversationUpdates();
  const audit = new AuditLog(store.db, store.dialect);
  let shuttingDown = false;

  const app = Fastify({ loggerInstance: log as unknown as FastifyBaseLogger, bodyLimit: 1024 * 1024, trustProxy: true });
  app.setErrorHandler(errorHandler);
  // every route, so the authorisation matrix test can insist that each one has an entry
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  await app.register(fastifyCookie);
  const auth = authPolicy({ idleTimeoutMs: config.sessionIdleMinutes * 60_000, ...opts.authPolicy });
  app.addHook('onRequest', sessionHook(store.db, auth));
  // with the SQLite writer threads an acknowledged message reaches the database a moment after its ack: every API
  // request reads as if it had been stored with it (immediate when nothing is behind)
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/api/')) await appender.settled();
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    if (shuttingDown) return reply.status(503).send({ ok: false, reason: 'shutting down' });
    try {
      await sql`select 1`.execute(store.db);
      return { ok: true, database: store.dialect };
    } catch (err) {
      return reply.status(503).send({ ok: false, reason: `database unreachable: ${(err as Error).message}` });
    }
  });
  const metrics = createMetrics(appender);
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  const sessionEndings = new SessionEndings();
  await registerAuthRoutes(app, store.db, audit, { secureCookies: config.secureCookies, secretKey: config.secretKey, policy: auth, log, sessionEndings });
  registerConversationRoutes(app, store.db, updates, audit);
  registerArchiveRoutes(app, store.db, store.dialect, audit, { matchWorkLimit: config.searchMatchLimit });
  registerGrantRoutes(app, store.db, store.dialect, audit);
  registerExportRoutes(app, { store, audit, dataDir: config.dataDir, log });
  registerAdminRoutes(app, store.db, audit);

  app.get('/demo', async (_req, reply) => reply.type('text/html; charset=utf-8').send(demoPageHtml()));
  app.get('/widget.js', async (_req, reply) => {
    const file = path.join(WIDGET_DIST, 'widget.js');
    if (!fs.existsSync(file)) return reply.status(503).type('text/plain').send('widget not built: run `npm run build`');
    return reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(fs.createReadStream(file));
  });
  const haveWeb = fs.existsSync(path.join(WEB_DIST, 'index.html'));
  if (haveWeb) await app.register(fastifyStatic, { root: WEB_DIST, prefix: '/', wildcard: false, index: ['index.html'] });
  app.setNotFoundHandler((request, reply) => {
    if (request.method === 'GET' && !request.url.startsWith('/api/') && haveWeb) return reply.sendFile('index.html');
    if (request.method === 'GET' && request.url === '/' && !haveWeb) return reply.type('text/plain').send('console not built: run `npm run build`');
    return reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  const io = new SocketServer(app.server, { serveClient: false, maxHttpBufferSize: 1024 * 1024, cors: { origin: true, credentials: true } });
  coalesceSocketWrites(io);
  const gateway = attachGateway({ io, db: store.db, appender, updates, audit, log, sessionCheckMs: config.sessionCheckSeconds * 1000, sessionEndings, now: auth.now });
  startSchedules({ app, store, audit, log, settled: () => appender.settled() }, config);

  return {
    app,
    io,
    store,
    appender,
    audit,
    log,
    routes,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const addr = app.server.address();
      return typeof addr === 'object' && addr ? addr.port : config.port;
    },
    async close() {
      shuttingDown = true;
      gateway.stop();
      // refuse new sockets and requests, then wait for every message already handed to the appender
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await app.close().catch(() => {});
      await appender.close();
      await store.close();
    },
  };
}
