import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../store/index.ts';
import { getCustomer } from '../customers/index.ts';
import { actorOf, requireViewer } from '../governance/http.ts';
import { canReadConversation, canReadCustomer, canWriteConversation, grantUsedFor, unmaskableAmong, unmaskGrantFor, unreadableAs, type Viewer } from '../governance/policies/conversations.ts';
import type { AuditLog } from '../governance/audit.ts';
import { HttpError, parseOr400 } from '../server/http-errors.ts';
import { type ConversationUpdates, getConversation, listCustomerConversations, listInbox, listMessagesAfter, markRead, resolveConversation } from './conversations.ts';
import { presentConversation, presentMessage } from './presenters.ts';
import { customerOriginal, presentCustomerForStaff } from '../customers/index.ts';

const idParams = z.object({ id: z.string().min(1).max(100) });
const inboxQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), before: z.coerce.number().int().optional() });
const messagesQuery = z.object({ afterSeq: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(200) });
const unmaskBody = z
  .object({
    afterSeq: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(500),
    reason: z.string().trim().max(500).optional(),
  })
  .strict();
const readBody = z.object({ seq: z.number().int().min(0) }).strict();

export function registerConversationRoutes(app: FastifyInstance, db: Kysely<Database>, updates: ConversationUpdates, audit: AuditLog) {
  // a conversation the viewer may not read is reported as missing, so ids cannot be probed (auditors: see unreadableAs);
  // an auditor refused content is audited, so attempts at sensitive conversations show in the trail too
  const load = async (viewer: Viewer, id: string, need: 'read' | 'write' = 'read', content?: { ip: string }) => {
    const c = await getConversation(db, id);
    if (!c || !(await canReadConversation(db, viewer, id))) {
      if (c && unreadableAs(viewer) === 'grant_required') {
        if (content) await audit.record({ actor: actorOf(viewer), action: 'view.refused', target: { type: 'conversation', id }, ip: content.ip, detail: { reason: 'grant_required' } });
        throw new HttpError(403, 'grant_required', `conversation ${id} is sensitive: reading it needs an approved access request (POST /api/v1/grants)`);
      }
      throw new HttpError(404, 'conversation_not_found', `conversation ${id} does not exist`);
    }
    if (need === 'write' && !(await canWriteConversation(db, viewer, id))) throw new HttpError(403, 'forbidden', `your role (${viewer.role}) may read but not change this conversation`);
    return c;
  };

  app.get('/api/v1/conversations', async (request) => {
    const viewer = await requireViewer(db, request);
    const q = parseOr400(inboxQuery, request.query);
    const items = await listInbox(db, viewer, q);
    return { conversations: items.map(presentConversation) };
  });

  app.get('/api/v1/conversations/:id', async (request) => {
    const viewer = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    const c = await load(viewer, id);
    const customer = await getCustomer(db, c.customerId);
    // the console offers 显示原文 only to the holder of an unmask grant; unmasking itself is the POST below
    const mayUnmask = (await unmaskGrantFor(db, viewer, id)) !== null;
    return { conversation: presentConversation({ ...c, customerName: customer?.name }), customer: customer && presentCustomerForStaff(customer), mayUnmask };
  });

  app.get('/api/v1/conversations/:id/messages', async (request) => {
    const user = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    const q = parseOr400(messagesQuery, request.query);
    await load(user, id, 'read', { ip: request.ip });
    const messages = await listMessagesAfter(db, id, q.afterSeq, q.limit);
    const grant = await grantUsedFor(db, user, { conversationId: id });
    await audit.record({ actor: actorOf(user), action: 'view', target: { type: 'conversation', id }, ip: request.ip, detail: { afterSeq: q.afterSeq, messages: messages.length, ...(grant ? { grant } : {}) } });
    return { messages: messages.map((m) => presentMessage(m, 'staff')), hasMore: messages.length === q.limit };
  });

  // 显示原文: the original text, explicitly asked for (a POST, so no link or prefetch does it), through a valid unmask
  // grant covering the conversation, and audited as unmask with the grant, the messages shown and the client address
  app.post('/api/v1/conversations/:id/unmask', async (request) => {
    const viewer = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(unmaskBody, request.body ?? {});
    const conversation = await load(viewer, id, 'read', { ip: request.ip });
    const grant = await unmaskGrantFor(db, viewer, id);
    if (!grant) throw new HttpError(403, 'unmask_grant_required', `showing the original text of conversation ${id} needs an approved access request that allows unmasking (POST /api/v1/grants with unmask: true)`);
    const messages = await listMessagesAfter(db, id, body.afterSeq, body.limit);
    const views = messages.map((m) => presentMessage(m, 'staff_unmasked'));
    // the grant covers the conversation, and so the contact details of the customer it is with
    const found = await getCustomer(db, conversation.customerId);
    const customer = found ? customerOriginal(found) : null;
    await audit.record({
      actor: actorOf(viewer),
      action: 'unmask',
      target: { type: 'conversation', id },
      ip: request.ip,
      detail: { grant, afterSeq: body.afterSeq, messages: messages.length, withPii: views.filter((v) => v.pii && v.pii.length > 0).map((v) => v.seq), customerPii: customer?.pii ?? [], ...(body.reason ? { reason: body.reason } : {}) },
    });
    return { messages: views, hasMore: messages.length === body.limit, grant, customer };
  });

  app.post('/api/v1/conversations/:id/read', async (request) => {
    const user = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    const body = parseOr400(readBody, request.body);
    const c = await load(user, id);
    await markRead(db, user.id, id, Math.min(body.seq, c.lastSeq));
    return { ok: true };
  });

  app.post('/api/v1/conversations/:id/resolve', async (request) => {
    const user = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    await load(user, id, 'write');
    const c = await resolveConversation(db, id, user.id);
    if (c) updates.emit('updated', c);
    return { conversation: c && presentConversation(c) };
  });

  app.get('/api/v1/customers/:id', async (request) => {
    const user = await requireViewer(db, request);
    const { id } = parseOr400(idParams, request.params);
    const customer = await getCustomer(db, id);
    if (!customer || !(await canReadCustomer(db, user, id))) {
      if (customer && unreadableAs(user) === 'grant_required') {
        await audit.record({ actor: actorOf(user), action: 'view.refused', target: { type: 'customer', id }, ip: request.ip, detail: { reason: 'grant_required' } });
        throw new HttpError(403, 'grant_required', `customer ${id} is sensitive: reading it needs an approved access request (POST /api/v1/grants)`);
      }
      throw new HttpError(404, 'customer_not_found', `customer ${id} does not exist`);
    }
    const grant = await grantUsedFor(db, user, { customerId: id });
    await audit.record({ actor: actorOf(user), action: 'view', target: { type: 'customer', id }, ip: request.ip, ...(grant ? { detail: { grant } } : {}) });
    const conversations = await listCustomerConversations(db, id, user);
    // the conversations listed here that 显示原文 may show as written (each through POST …/conversations/:id/unmask)
    const mayUnmask = await unmaskableAmong(db, user, conversations.map((c) => c.id));
    return { customer: presentCustomerForStaff(customer), conversations: conversations.map((c) => presentConversation(c)), mayUnmask };
  });
}
