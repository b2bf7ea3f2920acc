import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { testDialects, freshDatabase } from './support/databases.ts';
import { freePort } from './support/postgres.ts';
import { call, nextEvent } from './support/server.ts';

const root = path.resolve(import.meta.dirname, '..');

async function startKefu(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'serve'], { env: { ...process.env, ...env, KEFU_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('kefu is running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`kefu exited with ${code} before it was ready`)));
  });
  return child;
}

/** resolves when the child has exited, also when it already has */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

for (const dialect of testDialects()) {
  describe(`durability (${dialect})`, () => {
    test('kill -9 after acks loses no acknowledged message', async () => {
      const db = await freshDatabase(dialect);
      const port = await freePort();
      const env: Record<string, string> = { PORT: String(port), HOST: '127.0.0.1', KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl ?? '' };
      let server = await startKefu(env);
      const url = `http://127.0.0.1:${port}`;
      const customers: Array<{ socket: Socket; token: string; conversationId: string }> = [];
      for (let i = 0; i < 5; i++) {
        const socket = connect(`${url}/customer`, { transports: ['websocket'], forceNew: true, reconnection: false });
        const { visitorToken } = await nextEvent(socket, 'session');
        const ack = await call(socket, 'message:send', { clientId: `open-${i}`, text: `客户 ${i} 开始` });
        customers.push({ socket, token: visitorToken, conversationId: ack.conversationId });
      }
      // keep sending from every customer; kill the server while sends are in flight
      const acked = new Map<string, { seq: number; messageId: string; text: string }>();
      let stop = false;
      const senders = customers.map(async (c, ci) => {
        for (let n = 0; !stop; n++) {
          const text = `客户 ${ci} 消息 ${n}`;
          try {
            const ack = await call(c.socket, 'message:send', { conversationId: c.conversationId, clientId: `c${ci}-${n}`, text }, 5000);
            if (ack.ok) acked.set(`${ci}-${n}`, { seq: ack.seq, messageId: ack.messageId, text });
          } catch {
            return; // the connection died with the server
          }
        }
      });
      await new Promise((r) => setTimeout(r, 1500));
      const killed = exited(server);
      server.kill('SIGKILL');
      stop = true;
      await Promise.all(senders);
      await killed;
      assert.ok(acked.size > 50, `expected many acks before the kill, got ${acked.size}`);

      server = await startKefu(env);
      try {
        for (const [ci, c] of customers.entries()) {
          c.socket.disconnect();
          const again = connect(`${url}/customer`, { transports: ['websocket'], forceNew: true, auth: { visitorToken: c.token } });
          await nextEvent(again, 'session');
          const sync = await call(again, 'conversation:sync', { conversationId: c.conversationId, afterSeq: 0 });
          again.disconnect();
          const stored = new Map<string, { seq: number; messageId: string; text: string }>(sync.messages.map((m: any) => [m.messageId, m]));
          const seqs = sync.messages.map((m: { seq: number }) => m.seq);
          assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'seq stays dense after the crash');
          for (const [key, a] of acked) {
            if (!key.startsWith(`${ci}-`)) continue;
            const m = stored.get(a.messageId);
            assert.ok(m, `acknowledged message ${key} (seq ${a.seq}) is missing after kill -9`);
            assert.equal(m.seq, a.seq);
            assert.equal(m.text, a.text);
          }
        }
      } finally {
        const stopped = exited(server);
        server.kill('SIGTERM');
        await stopped;
        await db.drop();
      }
    });
  });
}

test('SIGTERM finishes in-flight writes and exits cleanly', async () => {
  const db = await freshDatabase('sqlite');
  const port = await freePort();
  const server = await startKefu({ PORT: String(port), HOST: '127.0.0.1', KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: '' });
  const socket = connect(`http://127.0.0.1:${port}/customer`, { transports: ['websocket'], forceNew: true, reconnection: false });
  await nextEvent(socket, 'session');
  const ack = await call(socket, 'message:send', { clientId: 'term-1', text: '关机前的消息' });
  assert.equal(ack.ok, true);
  const exit = exited(server);
  server.kill('SIGTERM');
  assert.equal(await exit, 0);
  socket.disconnect();
  await db.drop();
});
