import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { createCustomer } from '../customers/index.ts';
import { addGroupMember, createDepartment, createGroup, createUser, setUserDepartment, type Role } from '../governance/index.ts';
import { openConversation, resolveConversation, claimIfUnassigned, type MessageAppender } from '../conversations/index.ts';

// Demo text is our own, written for an online shop; it is not taken from any corpus.
const DEMO_DIALOGUES: Array<{ customer: { name: string; phone: string }; resolved: boolean; turns: Array<['customer' | 'agent', string]> }> = [
  {
    customer: { name: '王小明', phone: '13800138000' },
    resolved: true,
    turns: [
      ['customer', '你好，我上周买的蓝牙耳机到现在还没发货，订单号 202611180042。'],
      ['agent', '您好，我帮您查一下。这个订单因为仓库调货延迟了，今天下午会发出。'],
      ['customer', '好的，那大概什么时候能到？'],
      ['agent', '发货后一般两到三天送达，物流单号会短信通知您。'],
      ['customer', '谢谢！'],
    ],
  },
  {
    customer: { name: '李娜', phone: '13912345678' },
    resolved: false,
    turns: [
      ['customer', '收到的衣服尺码不对，想申请换货。'],
      ['agent', '非常抱歉给您带来不便。请在订单页点击「申请售后」，选择换货，我们会安排上门取件。'],
      ['customer', '取件要收费吗？'],
    ],
  },
  {
    customer: { name: '陈建国', phone: '15000001234' },
    resolved: false,
    turns: [['customer', '请问发票怎么开？我需要公司抬头的增值税普通发票。']],
  },
  {
    customer: { name: '張美玲', phone: '18612340000' },
    resolved: true,
    turns: [
      ['customer', '我想退款，商品有質量問題。'],
      ['agent', '您好，请上传商品问题的照片，我们核实后二十四小时内为您处理退款。'],
      ['customer', '照片已经上传了。'],
      ['agent', '已收到，退款已提交，预计一到三个工作日原路退回。'],
    ],
  },
];

const DEMO_STAFF: Array<{ login: string; displayName: string; role: Role }> = [
  { login: 'agent', displayName: '客服小李', role: 'agent' },
  { login: 'agent2', displayName: '客服小赵', role: 'agent' },
  { login: 'supervisor', displayName: '主管老周', role: 'supervisor' },
  { login: 'auditor', displayName: '审计员', role: 'auditor' },
  { login: 'admin', displayName: '管理员', role: 'admin' },
];

export interface DemoCredentials {
  login: string;
  password: string;
  role: Role;
}

/** Seeds demo staff (random passwords) and conversations; returns the credentials it created. */
export async function seedDemo(db: Kysely<Database>, appender: MessageAppender): Promise<DemoCredentials[]> {
  const creds: DemoCredentials[] = [];
  const ids: Record<string, string> = {};
  for (const s of DEMO_STAFF) {
    const password = randomBytes(9).toString('base64url');
    const u = await createUser(db, { login: s.login, password, role: s.role, displayName: s.displayName });
    ids[s.login] = u.id;
    creds.push({ login: s.login, password, role: s.role });
  }
  // one customer-service department with the usual skill groups; both agents serve 售前 and 售后
  const department = await createDepartment(db, '客服部');
  const groups: Record<string, string> = {};
  for (const name of ['售前', '售后', '技术', 'VIP']) groups[name] = (await createGroup(db, name, department.id)).id;
  await setUserDepartment(db, ids.supervisor!, department.id);
  for (const login of ['agent', 'agent2']) {
    await setUserDepartment(db, ids[login]!, department.id);
    await addGroupMember(db, groups['售前']!, ids[login]!);
    await addGroupMember(db, groups['售后']!, ids[login]!);
  }
  const start = Date.now() - DEMO_DIALOGUES.length * 3600_000;
  for (const [i, d] of DEMO_DIALOGUES.entries()) {
    const customer = await createCustomer(db, { name: d.customer.name, phone: d.customer.phone });
    let at = start + i * 3600_000;
    const { conversation } = await openConversation(db, { customerId: customer.id, channel: 'web', createdAt: at });
    for (const [role, text] of d.turns) {
      at += 45_000;
      const sender = role === 'customer' ? { kind: 'customer' as const, id: customer.id } : { kind: 'agent' as const, id: ids.agent! };
      await appender.append({ conversationId: conversation.id, clientId: null, sender, type: 'text', body: text, createdAt: at });
    }
    if (d.turns.some(([r]) => r === 'agent')) await claimIfUnassigned(db, conversation.id, ids.agent!);
    if (d.resolved) await resolveConversation(db, conversation.id, ids.agent!);
  }
  return creds;
}

export function writeCredentialsFile(dataDir: string, creds: DemoCredentials[]): string {
  const file = path.join(dataDir, 'demo-credentials.txt');
  const lines = ['# kefu demo accounts (generated on first start; change or delete them before real use)', ...creds.map((c) => `${c.role}\t${c.login}\t${c.password}`)];
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return file;
}
