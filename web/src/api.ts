/** Typed client for the kefu HTTP API. The session lives in an httpOnly cookie, so requests only need same-origin credentials. */

export type Role = 'agent' | 'supervisor' | 'auditor' | 'admin';
export type SenderKind = 'customer' | 'agent' | 'bot' | 'system';
export type ConversationState = 'bot' | 'queued' | 'assigned' | 'resolved' | 'closed';

export interface User {
  id: string;
  login: string;
  displayName: string;
  role: Role;
}

export interface MessageView {
  conversationId: string;
  messageId: string;
  seq: number;
  sender: { kind: SenderKind; id: string | null };
  type: string;
  text: string;
  createdAt: string;
  hash: string;
}

export interface ConversationSummary {
  id: string;
  externalId: string | null;
  customerId: string;
  customerName?: string;
  channel: string;
  groupId: string | null;
  assigneeId: string | null;
  state: ConversationState;
  lastSeq: number;
  unread?: number;
  lastMessage?: { senderKind: SenderKind; type: string; text: string; createdAt: string | null } | null;
  lastMessageAt: string | null;
  createdAt: string | null;
  firstResponseAt: string | null;
  resolvedAt: string | null;
}

export interface Customer {
  id: string;
  externalId: string | null;
  name: string;
  phone: string | null;
  email: string | null;
  vipLevel: number;
  attributes: Record<string, unknown>;
  createdAt: number;
}

/** One message found by the archive search. `highlights` are [start, end) UTF-16 offsets into `snippet`. */
export interface SearchHit {
  conversationId: string;
  externalId: string | null;
  customerId: string;
  customerName: string;
  channel?: string;
  messageId: string;
  seq: number;
  sender: { kind: SenderKind; id: string | null };
  type: string;
  createdAt: string;
  snippet: string;
  highlights: Array<[number, number]>;
}

export interface SearchResult {
  hits: SearchHit[];
  total: number;
  totalIsEstimate: boolean;
  nextCursor: string | null;
  tookMs: number;
}

/** The filters of GET /api/v1/search; empty values are left out of the request. */
export interface SearchQuery {
  q?: string;
  from?: string;
  to?: string;
  customer?: string;
  agent?: string;
  group?: string;
  channel?: string;
  tag?: string;
  sort?: 'time' | 'relevance';
  cursor?: string;
  limit?: number;
}

export const OPEN_STATES: readonly ConversationState[] = ['bot', 'queued', 'assigned'];

/** A refused or failed request; status 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: (() => void) | undefined;

/** Called when the session ends under a running console (expired, revoked, logged out in another tab). */
export function setUnauthorizedHandler(handler: (() => void) | undefined): void {
  onUnauthorized = handler;
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      signal,
      credentials: 'same-origin',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'network_error', (err as Error).message);
  }
  const payload: unknown = await res.json().catch(() => null);
  if (res.status === 401 && !path.startsWith('/api/v1/auth/')) onUnauthorized?.();
  if (!res.ok) {
    const error = (payload as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? res.statusText);
  }
  return payload as T;
}

const enc = encodeURIComponent;

export const api = {
  me: () => request<{ user: User }>('GET', '/api/v1/auth/me'),
  login: (login: string, password: string) => request<{ user: User; expiresAt: string }>('POST', '/api/v1/auth/login', { login, password }),
  logout: () => request<{ ok: true }>('POST', '/api/v1/auth/logout'),
  inbox: (limit = 200) => request<{ conversations: ConversationSummary[] }>('GET', `/api/v1/conversations?limit=${limit}`),
  conversation: (id: string) => request<{ conversation: ConversationSummary; customer: Customer | null }>('GET', `/api/v1/conversations/${enc(id)}`),
  messages: (id: string, afterSeq: number, limit: number) =>
    request<{ messages: MessageView[]; hasMore: boolean }>('GET', `/api/v1/conversations/${enc(id)}/messages?afterSeq=${afterSeq}&limit=${limit}`),
  markRead: (id: string, seq: number) => request<{ ok: true }>('POST', `/api/v1/conversations/${enc(id)}/read`, { seq }),
  resolve: (id: string) => request<{ conversation: ConversationSummary }>('POST', `/api/v1/conversations/${enc(id)}/resolve`),
  search: (query: SearchQuery, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
    return request<SearchResult>('GET', `/api/v1/search?${params}`, undefined, signal);
  },
  customer: (id: string) => request<{ customer: Customer; conversations: ConversationSummary[] }>('GET', `/api/v1/customers/${enc(id)}`),
};

/** Every message of a conversation after a seq, following the server's pages. */
export async function fetchMessagesAfter(conversationId: string, afterSeq: number): Promise<MessageView[]> {
  const pageSize = 500;
  const all: MessageView[] = [];
  let cursor = afterSeq;
  for (;;) {
    const page = await api.messages(conversationId, cursor, pageSize);
    all.push(...page.messages);
    const last = page.messages.at(-1);
    if (!page.hasMore || !last) return all;
    cursor = last.seq;
  }
}
