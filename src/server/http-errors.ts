import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { describeZodError } from '../conversations/payloads.ts';

/** An expected refusal: becomes a 4xx with {error: {code, message}}. */
export class HttpError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

export function parseOr400<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new HttpError(400, 'invalid_request', describeZodError(r.error));
  return r.data;
}

export function errorHandler(this: unknown, err: Error & { statusCode?: number; code?: string }, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof HttpError) return reply.status(err.status).send({ error: { code: err.code, message: err.message } });
  const status = err.statusCode ?? 500;
  if (status < 500) {
    // Fastify's own refusals (malformed JSON, body too large, wrong content type)
    return reply.status(status).send({ error: { code: (err.code ?? 'bad_request').toLowerCase(), message: err.message } });
  }
  request.log.error({ err }, 'request failed');
  return reply.status(500).send({ error: { code: 'internal_error', message: 'internal error; the request may be retried' } });
}
