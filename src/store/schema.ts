import type { Generated } from 'kysely';

/** Times are integer milliseconds since the epoch (UTC) in both dialects, so comparisons and ordering are identical. */
export interface CustomerTable {
  id: string;
  external_id: string | null;
  visitor_token_hash: string | null;
  name: string;
  phone: string | null;
  email: string | null;
  vip_level: number;
  attributes: string; // JSON object
  created_at: number;
}

export interface UserTable {
  id: string;
  login: string;
  display_name: string;
  password_hash: string;
  role: 'agent' | 'supervisor' | 'auditor' | 'admin';
  status: 'active' | 'disabled';
  department_id: string | null;
  created_at: number;
}

export interface SessionTable {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** public id (listing, revocation); the token itself is only ever stored hashed */
  id: string;
  last_seen_at: number;
  /** idle timeout decided when the session was made, so every reader applies the same one */
  idle_ms: number;
  ip: string | null;
  user_agent: string | null;
}

/** A user's TOTP second factor: pending during enrolment, enabled once a code confirmed it. */
export interface UserTotpTable {
  user_id: string;
  secret: string | null;
  pending_secret: string | null;
  enabled_at: number | null;
  last_step: number | null;
}

export interface RecoveryCodeTable {
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

/** Password accepted, second factor outstanding. */
export interface LoginChallengeTable {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  attempts: number;
}

/** Failed sign-ins per key ("login:NAME" or "ip:ADDRESS") in the current window, and the lock they led to. */
export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_start: number;
  locked_until: number | null;
}

export interface SettingTable {
  key: string;
  value: string; // JSON
  updated_at: number;
}

export type ConversationState = 'bot' | 'queued' | 'assigned' | 'resolved' | 'closed';

export interface ConversationTable {
  id: string;
  external_id: string | null;
  customer_id: string;
  /** clientId of the message that opened the conversation, so a retried first send does not open a second one */
  open_client_id: string | null;
  channel: string;
  group_id: string | null;
  assignee_id: string | null;
  state: ConversationState;
  last_seq: number;
  last_hash: string;
  last_message_at: number;
  created_at: number;
  first_response_at: number | null;
  resolved_at: number | null;
  /** messages up to this seq have been purged by retention (defaults to 0; optional so existing row literals stay valid) */
  purged_through_seq?: number;
}

export type SenderKind = 'customer' | 'agent' | 'bot' | 'system';
export type MessageType = 'text' | 'image' | 'voice' | 'video' | 'file' | 'event';

export interface MessageTable {
  id: string;
  conversation_id: string;
  seq: number;
  client_id: string | null;
  sender_kind: SenderKind;
  sender_id: string | null;
  type: MessageType;
  body: string;
  created_at: number;
  hash: string;
  /** set by the retention purge, which also empties body; the hash stays, so the chain still verifies (null until then) */
  purged_at?: number | null;
  /** time-ordered key of the search index (store/search-keys.ts): created_at × KEY_SLOTS_PER_MS + n; set by the appender */
  search_key?: number | null;
}

/** Bookkeeping of the search index: `max_drift_ms`, how far a search key may run ahead of its message's created_at. */
export interface SearchIndexStateTable {
  name: string;
  value: number;
}

export interface ConversationEventTable {
  id: Generated<number>;
  conversation_id: string;
  kind: 'created' | 'assigned' | 'message' | 'resolved' | 'reopened';
  actor_kind: SenderKind | null;
  actor_id: string | null;
  data: string; // JSON
  at: number;
}

/** Per agent and conversation: the last seq the agent has read, for unread counts. */
export interface ReadMarkerTable {
  user_id: string;
  conversation_id: string;
  last_read_seq: number;
}

/** staff who have written in a conversation (an agent may read the conversations it replied in), one row per pair */
export interface ConversationParticipantTable {
  conversation_id: string;
  user_id: string;
}

export interface ConversationTagTable {
  conversation_id: string;
  tag: string;
}

export interface AuditEventTable {
  id: Generated<number>;
  at: number;
  actor_id: string | null;
  actor_login: string;
  actor_role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  query: string | null; // JSON of the search text and filters
  ip: string | null;
  detail: string; // JSON
  hash: string;
}

export interface DepartmentTable {
  id: string;
  name: string;
  created_at: number;
}

export interface AgentGroupTable {
  id: string;
  name: string;
  department_id: string | null;
  created_at: number;
}

export interface GroupMemberTable {
  group_id: string;
  user_id: string;
}

export type GrantScopeKind = 'customer' | 'conversations' | 'query';
/** Stored states; "expired" is not stored: an approved grant whose expires_at has passed is expired. */
export type GrantState = 'requested' | 'approved' | 'denied' | 'revoked';

export interface AccessGrantTable {
  id: string;
  requester_id: string;
  requester_login: string;
  scope_kind: GrantScopeKind;
  scope: string; // JSON: {customerId} | {conversationIds} | {query: search filters}
  reason: string;
  duration_ms: number;
  state: GrantState;
  requested_at: number;
  approver_id: string | null;
  approver_login: string | null;
  decided_at: number | null;
  decision_note: string | null;
  /** decided_at + duration_ms, set on approval */
  expires_at: number | null;
  covered_count: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
  /** 1: the grant also lets its holder ask for the unmasked text of what it covers (unmask audited each time) */
  unmask: number;
}

/** The conversations an approved grant covers, fixed when it was approved. */
export interface AccessGrantConversationTable {
  grant_id: string;
  conversation_id: string;
}

export interface ChainCheckpointTable {
  id: Generated<number>;
  at: number;
  conversations: number;
  merkle_root: string;
  audit_event_id: number | null;
  audit_hash: string | null;
  prev_hash: string;
  hash: string;
}

export interface CheckpointHeadTable {
  checkpoint_id: number;
  conversation_id: string;
  seq: number;
  hash: string;
}

/** Keep the content of resolved or closed conversations for keep_days; the filters narrow which conversations it covers. */
export interface RetentionPolicyTable {
  id: string;
  name: string;
  keep_days: number;
  channel: string | null;
  group_id: string | null;
  tag: string | null;
  created_by: string;
  created_at: number;
}

/** While not released, the customer's or conversation's messages are never purged. */
export interface LegalHoldTable {
  id: string;
  target_type: 'customer' | 'conversation';
  target_id: string;
  reason: string;
  placed_by: string;
  placed_at: number;
  released_by: string | null;
  released_at: number | null;
}

export interface Database {
  user_totp: UserTotpTable;
  recovery_code: RecoveryCodeTable;
  login_challenge: LoginChallengeTable;
  login_throttle: LoginThrottleTable;
  setting: SettingTable;
  retention_policy: RetentionPolicyTable;
  legal_hold: LegalHoldTable;
  chain_checkpoint: ChainCheckpointTable;
  checkpoint_head: CheckpointHeadTable;
  access_grant: AccessGrantTable;
  access_grant_conversation: AccessGrantConversationTable;
  department: DepartmentTable;
  agent_group: AgentGroupTable;
  group_member: GroupMemberTable;
  audit_event: AuditEventTable;
  conversation_tag: ConversationTagTable;
  customer: CustomerTable;
  app_user: UserTable;
  session: SessionTable;
  conversation: ConversationTable;
  message: MessageTable;
  conversation_event: ConversationEventTable;
  read_marker: ReadMarkerTable;
  conversation_participant: ConversationParticipantTable;
  search_index_state: SearchIndexStateTable;
}
