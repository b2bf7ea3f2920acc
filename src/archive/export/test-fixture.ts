/**
 * Test support for the export tests (not used by the product): a small archive with the awkward cases an export must
 * get right — commas, quotes, line breaks, a would-be formula, planted PII, an event message, three channels — and
 * an RFC 4180 reader to check the CSV with.
 */
import type { Kysely } from 'kysely';
import type { Database, SenderKind, MessageType } from '../../store/index.ts';
import { createCustomer } from '../../customers/index.ts';
import { createUser, type User } from '../../governance/index.ts';
import type { MessageAppender } from '../../conversations/index.ts';
import { openConversation } from '../../conversations/index.ts';

export const T0 = Date.parse('2026-11-25T06:03:12.123Z');
export const JULY = Date.parse('2026-07-01T12:00:00.000Z');
const DAY = 86_400_000;

export interface FixtureMessage {
  conversationId: string;
  seq: number;
  kind: SenderKind;
  type: MessageType;
  body: string;
  at: number;
}

export interface Fixture {
  wang: User;
  zhao: User;
  conversations: { a: string; b: string; c: string };
  /** every stored message, events included, in (conversation, seq) order */
  messages: FixtureMessage[];
}

type Line = [SenderKind, MessageType, string];

export async function seedExportFixture(db: Kysely<Database>, appender: MessageAppender, suffix = ''): Promise<Fixture> {
  const wang = await createUser(db, { login: `wang${suffix}`, password: 'long-enough-pw', role: 'agent', displayName: '王客服' });
  const zhao = await createUser(db, { login: `zhao${suffix}`, password: 'long-enough-pw', role: 'agent', displayName: '赵客服' });
  const messages: FixtureMessage[] = [];
  const add = async (conversationId: string, start: number, lines: Line[]) => {
    for (const [i, [kind, type, body]] of lines.entries()) {
      const at = start + i * 60_000;
      const r = await appender.append({ conversationId, clientId: null, sender: { kind, id: null }, type, body, createdAt: at });
      messages.push({ conversationId, seq: r.message.seq, kind, type, body, at });
    }
  };

  const zhang = await createCustomer(db, { name: '张三', externalId: `crm-1${suffix}` });
  const a = (await openConversation(db, { customerId: zhang.id, channel: 'web', externalId: `ord-A${suffix}`, createdAt: T0 })).conversation.id;
  await db.updateTable('conversation').set({ assignee_id: wang.id, group_id: 'grp_after_sales' }).where('id', '=', a).execute();
  await db.insertInto('conversation_tag').values({ conversation_id: a, tag: '投诉' }).execute();
  await add(a, T0, [
    ['customer', 'text', '你好，我的手机号是13800138000，订单202611250001的退款还没到账'],
    ['agent', 'text', '您好，请提供收货地址, 我们核实一下'],
    ['customer', 'text', '地址：北京市朝阳区"幸福"小区\n3号楼'],
    ['system', 'event', '{"event":"assigned"}'],
    ['customer', 'text', '=HYPERLINK("http://evil.example","点我")'],
    ['bot', 'text', '+86 139 1234 5678 是您的备用号码吗？'],
  ]);

  const li = await createCustomer(db, { name: 'Li, "Lucky" Si' });
  const b = (await openConversation(db, { customerId: li.id, channel: 'email', createdAt: T0 + DAY })).conversation.id;
  await add(b, T0 + DAY, [
    ['customer', 'text', '发票抬头写错了，邮箱 lisi@example.com'],
    ['system', 'text', '会话已转接'],
    ['agent', 'text', 'Refund approved, ¥1,299.00 on 2026-11-26'],
  ]);

  const visitor = await createCustomer(db, { name: '13912345678' });
  const c = (await openConversation(db, { customerId: visitor.id, channel: 'weibo', createdAt: JULY })).conversation.id;
  await db.updateTable('conversation').set({ assignee_id: zhao.id }).where('id', '=', c).execute();
  await add(c, JULY, [['customer', 'text', '退款 refund please']]);

  messages.sort((x, y) => (x.conversationId < y.conversationId ? -1 : x.conversationId > y.conversationId ? 1 : x.seq - y.seq));
  return { wang, zhao, conversations: { a, b, c }, messages };
}

/** Parses RFC 4180 CSV (quoted fields with "" escapes, CRLF records; a line break inside quotes is data). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || record.length > 0) throw new Error('the CSV does not end with CRLF');
  return records;
}
