import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database, DialectName } from '../store/index.ts';
import { actorOf, requireViewer } from '../governance/http.ts';
import type { AuditLog } from '../governance/audit.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { SearchError, searchMessages, searchParamsSchema } from './search.ts';

export function registerArchiveRoutes(app: FastifyInstance, db: Kysely<Database>, dialect: DialectName, audit: AuditLog, opts: { matchWorkLimit?: number } = {}) {
  app.get('/api/v1/search', async (request) => {
    const user = await requireViewer(db, request);
    const params = parseOr400(searchParamsSchema, request.query);
    try {
      const result = await searchMessages(db, dialect, params, user, opts);
      const { cursor: _cursor, ...query } = params;
      await audit.record({ actor: actorOf(user), action: 'search', query, ip: request.ip, detail: { total: result.total, page: params.cursor ? 'next' : 'first' } });
      // the full body is for the CLI and exports; the console shows the snippet
      return { ...result, hits: result.hits.map(({ body: _body, ...hit }) => hit) };
    } catch (err) {
      if (err instanceof SearchError) throw new HttpError(400, err.code, err.message);
      throw err;
    }
  });
}
