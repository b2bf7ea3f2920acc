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

export interface Database {
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
}
