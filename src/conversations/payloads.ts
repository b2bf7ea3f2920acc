import { z } from 'zod';

/** Socket and HTTP payload schemas: the edge of the conversations module. */
export const MAX_TEXT_LENGTH = 5000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const id = z.string().min(1).max(100);
const clientId = z.string().min(1, 'clientId is required').max(100, 'clientId may have at most 100 characters');
const text = z
  .string()
  .max(MAX_TEXT_LENGTH, `text may have at most ${MAX_TEXT_LENGTH} characters`)
  .refine((t) => t.trim().length > 0, 'text must not be empty')
  // PostgreSQL cannot store NUL, and a lone surrogate would be stored as U+FFFD while the hash covers the original
  .refine((t) => !t.includes('\u0000') && !LONE_SURROGATE.test(t), 'text must be valid Unicode without NUL characters');

export const customerSendSchema = z.object({ conversationId: id.optional(), clientId, text }).strict();
export const agentSendSchema = z.object({ conversationId: id, clientId, text }).strict();
export const syncSchema = z.object({ conversationId: id, afterSeq: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).optional() }).strict();
export const typingSchema = z.object({ conversationId: id, typing: z.boolean() }).strict();
export const readSchema = z.object({ conversationId: id, seq: z.number().int().min(0) }).strict();

/** the first issue of a failed parse, phrased for a client developer */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid payload';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}
