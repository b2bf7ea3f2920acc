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
  /** kinds of personal data the server masked in text (phone, ID card, bank card, email) */
  pii?: string[];
  /** the original text, from an explicit (audited) unmask through an unmask grant */
  unmasked?: true;
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

/** A customer's contact details as written, from 显示原文 (POST …/unmask); the profile itself stays masked */
export interface CustomerOriginal {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  attributes: Record<string, unknown>;
  /** fields that held personal data: name, phone, email, or `attributes.<key>` */
  pii: Array<'name' | 'phone' | 'email' | `attributes.${string}`>;
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
  /** set when the server stopped at its work limit short of a full page: matches after this time were searched */
  searchedBackTo: string | null;
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

export type GrantScopeKind = 'customer' | 'conversations' | 'query';
/** The filters of a search-query grant: those of the archive search, without paging and sort. */
export type GrantQuery = Omit<SearchQuery, 'sort' | 'cursor' | 'limit'> & { conversation?: string };
export type GrantScope = { kind: 'customer'; customerId: string } | { kind: 'conversations'; conversationIds: string[] } | { kind: 'query'; query: GrantQuery };
export type GrantState = 'requested' | 'approved' | 'denied' | 'expired' | 'revoked';

/** An access request (申请) and its decision (审批). */
export interface Grant {
  id: string;
  requester: { id: string; login: string };
  scope: GrantScope;
  reason: string;
  durationHours: number;
  state: GrantState;
  requestedAt: string;
  approver: { id: string | null; login: string } | null;
  decidedAt: string | null;
  decisionNote: string | null;
  expiresAt: string | null;
  conversations: number | null;
  revokedAt: string | null;
  revokedBy: string | null;
  /** the grant also allows 显示原文 (unmasking) for what it covers */
  unmask: boolean;
  /** pending requests, for approvers: how many conversations approving now would cover */
  preview?: { conversations: number; tooBroad: boolean };
}

export type GrantRequest = GrantScope & { reason: string; durationHours: number; unmask?: boolean };

/** A completed sign-in; twoFactorEnrolmentRequired: the session may only set up two-factor until that is done. */
export interface SignedIn {
  user: User;
  expiresAt: string;
  twoFactorEnrolmentRequired?: boolean;
}

/** The password was right and the account has two-factor: a code (or a recovery code) must follow. */
export interface SecondFactorNeeded {
  twoFactorRequired: true;
  challenge: string;
  expiresAt: string;
}

export type LoginResult = SignedIn | SecondFactorNeeded;

export interface TwoFactorStatus {
  enabled: boolean;
  enabledAt: string | null;
  recoveryCodesLeft: number;
  /** the role must use two-factor: it cannot be turned off */
  required: boolean;
}

export interface TwoFactorSetup {
  otpauthUri: string;
  qrDataUrl?: string;
  secret: string;
}

export interface SessionView {
  id: string;
  current: boolean;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
}

export interface TwoFactorPolicy {
  roles: Role[];
  alwaysRequired: Role[];
}

export interface ApproverPolicy {
  roles: Role[];
  alwaysApprover: Role[];
}

export const OPEN_STATES: readonly ConversationState[] = ['bot', 'queued', 'assigned'];

/** A refused or failed request; status 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** for a lock-out (429): seconds until sign-in is possible again */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

let onUnauthorized: (() => void) | undefined;
let onEnrolmentRequired: (() => void) | undefined;

/** Called when the server holds the session to two-factor enrolment (the admin now requires 2FA of this role). */
export function setEnrolmentRequiredHandler(handler: (() => void) | undefined): void {
  onEnrolmentRequired = handler;
}

/** Every request that changes something carries it; the server refuses cookie-authenticated writes without it (CSRF). */
const CSRF_HEADER = { 'x-kefu-csrf': '1' };

/** Called when the session ends under a running console (expired, revoked, logged out in another tab). */
export function setUnauthorizedHandler(handler: (() => void) | undefined): void {
  onUnauthorized = handler;
}

async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      signal,
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(method === 'GET' ? {} : CSRF_HEADER),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'network_error', (err as Error).message);
  }
  const payload: unknown = await res.json().catch(() => null);
  if (res.status === 401 && !path.startsWith('/api/v1/auth/')) onUnauthorized?.();
  if (!res.ok) {
    const error = (payload as { error?: { code?: string; message?: string; retryAfterSeconds?: number } } | null)?.error;
    if (res.status === 403 && error?.code === 'two_factor_enrolment_required') onEnrolmentRequired?.();
    throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? res.statusText, error?.retryAfterSeconds);
  }
  return payload as T;
}

const enc = encodeURIComponent;

export interface ExportJob {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  format: 'csv' | 'xlsx';
  rows: number;
  totalRows: number | null;
  progress: number;
  filename?: string;
  error?: string;
}

export type ExportRequest = { format: 'csv' | 'xlsx'; tz?: string } & Partial<Record<'q' | 'from' | 'to' | 'customer' | 'agent' | 'channel' | 'tag' | 'group', string>>;

export interface AuditEventView {
  id: number;
  at: string;
  actor: { id: string | null; login: string; role: string | null };
  action: string;
  target: { type: string; id: string } | null;
  query: unknown;
  ip: string | null;
  detail: unknown;
}

export const auditApi = {
  list: (f: { actor?: string; action?: string; from?: string; to?: string; before?: number }) => {
    const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
    return request<{ events: AuditEventView[]; nextBefore: number | null }>('GET', `/api/v1/audit?${qs}`);
  },
};

export interface Department {
  id: string;
  name: string;
}

export interface AgentGroup {
  id: string;
  name: string;
  departmentId: string | null;
  memberIds: string[];
}

export interface OrgUser {
  id: string;
  login: string;
  displayName: string;
  role: Role;
  status: 'active' | 'disabled';
  departmentId: string | null;
}

/** GET /api/v1/org: the whole organisation, and what the caller may do with it (governance/policies/org.ts). */
export interface OrgView {
  departments: Department[];
  groups: AgentGroup[];
  users: OrgUser[];
  roles: Role[];
  may: { manage: boolean };
}

export const orgApi = {
  get: () => request<OrgView>('GET', '/api/v1/org'),
  addDepartment: (name: string) => request<{ department: Department }>('POST', '/api/v1/org/departments', { name }),
  addGroup: (name: string, departmentId: string | null) => request<{ group: Omit<AgentGroup, 'memberIds'> }>('POST', '/api/v1/org/groups', { name, departmentId }),
  renameDepartment: (id: string, name: string) => request<{ department: Department }>('PATCH', `/api/v1/org/departments/${enc(id)}`, { name }),
  deleteDepartment: (id: string) => request<{ ok: true }>('DELETE', `/api/v1/org/departments/${enc(id)}`),
  updateGroup: (id: string, change: { name?: string; departmentId?: string | null }) => request<{ group: Omit<AgentGroup, 'memberIds'> }>('PATCH', `/api/v1/org/groups/${enc(id)}`, change),
  deleteGroup: (id: string) => request<{ ok: true }>('DELETE', `/api/v1/org/groups/${enc(id)}`),
  addMember: (groupId: string, userId: string) => request<{ ok: true }>('POST', `/api/v1/org/groups/${enc(groupId)}/members`, { userId }),
  removeMember: (groupId: string, userId: string) => request<{ ok: true }>('DELETE', `/api/v1/org/groups/${enc(groupId)}/members/${enc(userId)}`),
  setDepartment: (userId: string, departmentId: string | null) => request<{ ok: true }>('PUT', `/api/v1/org/users/${enc(userId)}/department`, { departmentId }),
};

export const exportsApi = {
  start: (body: ExportRequest) => request<{ job: ExportJob }>('POST', '/api/v1/exports', body),
  get: (id: string) => request<{ job: ExportJob }>('GET', `/api/v1/exports/${enc(id)}`),
  downloadUrl: (id: string) => `/api/v1/exports/${enc(id)}/download`,
};

export const api = {
  me: () => request<{ user: User; twoFactorEnabled?: boolean; twoFactorEnrolmentRequired?: boolean }>('GET', '/api/v1/auth/me'),
  login: (login: string, password: string) => request<LoginResult>('POST', '/api/v1/auth/login', { login, password }),
  loginSecondFactor: (challenge: string, answer: { code: string } | { recoveryCode: string }) =>
    request<SignedIn & { recoveryCodesLeft?: number }>('POST', '/api/v1/auth/login/2fa', { challenge, ...answer }),
  twoFactor: () => request<TwoFactorStatus>('GET', '/api/v1/auth/2fa'),
  twoFactorSetup: () => request<TwoFactorSetup>('POST', '/api/v1/auth/2fa/setup', {}),
  twoFactorConfirm: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/api/v1/auth/2fa/confirm', { code }),
  twoFactorDisable: (code: string) => request<{ ok: true }>('POST', '/api/v1/auth/2fa/disable', { code }),
  newRecoveryCodes: (code: string) => request<{ recoveryCodes: string[] }>('POST', '/api/v1/auth/2fa/recovery-codes', { code }),
  sessions: () => request<{ sessions: SessionView[] }>('GET', '/api/v1/auth/sessions'),
  endSession: (id: string) => request<{ ok: true }>('DELETE', `/api/v1/auth/sessions/${enc(id)}`),
  changePassword: (current: string, next: string) => request<{ ok: true; revokedSessions: number }>('POST', '/api/v1/auth/password', { current, next }),
  twoFactorPolicy: () => request<TwoFactorPolicy>('GET', '/api/v1/admin/settings/2fa'),
  setTwoFactorPolicy: (roles: Role[]) => request<TwoFactorPolicy>('PUT', '/api/v1/admin/settings/2fa', { roles }),
  approverPolicy: () => request<ApproverPolicy>('GET', '/api/v1/admin/settings/grant-approvers'),
  setApproverPolicy: (roles: Role[]) => request<ApproverPolicy>('PUT', '/api/v1/admin/settings/grant-approvers', { roles }),
  logout: () => request<{ ok: true }>('POST', '/api/v1/auth/logout'),
  inbox: (limit = 200) => request<{ conversations: ConversationSummary[] }>('GET', `/api/v1/conversations?limit=${limit}`),
  conversation: (id: string) => request<{ conversation: ConversationSummary; customer: Customer | null; mayUnmask?: boolean }>('GET', `/api/v1/conversations/${enc(id)}`),
  /** 显示原文: the original text through an unmask grant; audited as unmask on the server */
  unmask: (id: string, afterSeq = 0) => request<{ messages: MessageView[]; hasMore: boolean; grant: string; customer: CustomerOriginal | null }>('POST', `/api/v1/conversations/${enc(id)}/unmask`, { afterSeq, limit: 1000 }),
  messages: (id: string, afterSeq: number, limit: number) =>
    request<{ messages: MessageView[]; hasMore: boolean }>('GET', `/api/v1/conversations/${enc(id)}/messages?afterSeq=${afterSeq}&limit=${limit}`),
  markRead: (id: string, seq: number) => request<{ ok: true }>('POST', `/api/v1/conversations/${enc(id)}/read`, { seq }),
  resolve: (id: string) => request<{ conversation: ConversationSummary }>('POST', `/api/v1/conversations/${enc(id)}/resolve`),
  search: (query: SearchQuery, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
    return request<SearchResult>('GET', `/api/v1/search?${params}`, undefined, signal);
  },
  /** mayUnmask: the listed conversations an unmask grant of the viewer covers (显示原文 on the customer page) */
  customer: (id: string) => request<{ customer: Customer; conversations: ConversationSummary[]; mayUnmask: string[] }>('GET', `/api/v1/customers/${enc(id)}`),
  requestGrant: (body: GrantRequest) => request<{ grant: Grant }>('POST', '/api/v1/grants', body),
  grants: (which: 'mine' | 'pending' | 'all') => request<{ grants: Grant[]; mayDecide: boolean }>('GET', `/api/v1/grants?${which}=1`),
  approveGrant: (id: string, note?: string) => request<{ grant: Grant }>('POST', `/api/v1/grants/${enc(id)}/approve`, note ? { note } : {}),
  denyGrant: (id: string, note: string) => request<{ grant: Grant }>('POST', `/api/v1/grants/${enc(id)}/deny`, { note }),
  revokeGrant: (id: string) => request<{ grant: Grant }>('POST', `/api/v1/grants/${enc(id)}/revoke`, {}),
};

/** Every message of a conversation after a seq, following the server's pages. */
/** 显示原文 of a whole conversation, page after page (each page audited): the original text by seq, and the customer as written */
export async function unmaskConversation(id: string): Promise<{ original: Record<number, string>; customer: CustomerOriginal | null }> {
  const original: Record<number, string> = {};
  let customer: CustomerOriginal | null = null;
  for (let after = 0; ; ) {
    const page = await api.unmask(id, after);
    customer = page.customer;
    for (const m of page.messages) original[m.seq] = m.text;
    const last = page.messages.at(-1);
    if (!page.hasMore || !last) break;
    after = last.seq;
  }
  return { original, customer };
}

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
