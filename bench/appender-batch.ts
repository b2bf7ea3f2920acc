/**
 * Cost of one group commit of kefu's MessageAppender by batch size, in process (no sockets): how the commit time grows
 * with the number of messages committed together. Each batch holds one new message in each of B different
 * conversations, as under live load. Embedded SQLite in a fresh temp dir; small and quick.
 *
 *   npx tsx bench/appender-batch.ts [--kefu-root DIR] [--conversations 2000] [--seed-messages 40000] [--repeat 5]
 *
 * --kefu-root measures another checkout (e.g. a copy made by bench/patched-tree.sh with a patch applied).
 * Prints a table (best of --repeat per batch size) and a JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kefuCheckout, num } from './lib/args.ts';

const { root: kefuRoot, load } = kefuCheckout();
const conversations = num('conversations', 2000);
const seedMessages = num('seed-messages', 40000);
const repeat = num('repeat', 5);
const sizes = [1, 8, 64, 128, 256, 512].filter((b) => b <= conversations);

const { openStore } = await load<typeof import('../src/store/index.ts')>('src/store/index.ts');
const { MessageAppender, openConversation } = await load<typeof import('../src/conversations/index.ts')>('src/conversations/index.ts');
const { createCustomer } = await load<typeof import('../src/customers/customers.ts')>('src/customers/customers.ts');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-appender-bench-'));
try {
  const store = await openStore({ dataDir: dir });
  const appender = new MessageAppender(store.db, store.dialect);
  const convIds: string[] = [];
  // seeding: fast but unsafe writes, then back to kefu's durable setting for the measurement
  store.sqlite!.pragma('synchronous = OFF');
  for (let i = 0; i < conversations; i++) {
    const c = await createCustomer(store.db, { name: `bench customer ${i}` });
    convIds.push((await openConversation(store.db, { customerId: c.id, channel: 'web', openClientId: `open-${i}` })).conversation.id);
  }
  let n = 0;
  const text = '您好，我上周下的订单还没有发货，能帮我查一下物流吗？谢谢';
  const appendMany = (count: number, tag: string) =>
    Promise.all(
      Array.from({ length: count }, () => {
        const k = n++;
        return appender.append({ conversationId: convIds[k % conversations]!, clientId: `${tag}-${k}`, sender: { kind: 'customer', id: null }, type: 'text', body: `${text} ${k}` });
      }),
    );
  for (let done = 0; done < seedMessages; done += 500) await appendMany(Math.min(500, seedMessages - done), 'seed');
  store.sqlite!.pragma('synchronous = FULL');

  const rows: Array<{ batch: number; bestMs: number; medianMs: number; usPerMessage: number }> = [];
  for (const b of sizes) {
    const times: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const t = performance.now();
      await appendMany(b, `b${b}`);
      times.push(performance.now() - t);
    }
    times.sort((x, y) => x - y);
    const best = times[0]!;
    rows.push({ batch: b, bestMs: Math.round(best * 100) / 100, medianMs: Math.round(times[Math.floor(times.length / 2)]! * 100) / 100, usPerMessage: Math.round((best * 1000) / b) });
  }
  await appender.idle();
  await store.close();

  process.stdout.write(`MessageAppender group commit, ${conversations} conversations, ${seedMessages} messages already stored, kefu at ${kefuRoot}\n`);
  process.stdout.write(`| batch (messages, each in another conversation) | best ms | median ms | µs per message (best) |\n|---:|---:|---:|---:|\n`);
  for (const r of rows) process.stdout.write(`| ${r.batch} | ${r.bestMs} | ${r.medianMs} | ${r.usPerMessage} |\n`);
  process.stdout.write(JSON.stringify({ bench: 'appender-batch', kefuRoot, conversations, seedMessages, repeat, rows }) + '\n');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
