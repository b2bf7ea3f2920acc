import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageLogWriter, listSegments, readMessageLog, type LoggedBatch } from './message-log.ts';

const batch = (batchNo: number, body: string): LoggedBatch => ({
  batchNo,
  messages: [
    {
      message: { id: `msg_${batchNo}`, conversationId: 'conv_1', customerId: 'cus_1', seq: batchNo, clientId: `c${batchNo}`, senderKind: 'customer', senderId: 'cus_1', type: 'text', body, createdAt: 1_700_000_000_000 + batchNo, hash: 'ab'.repeat(32) },
      readBy: null,
      live: true,
    },
  ],
});

/** a record written and synced, as the log thread does */
function append(log: MessageLogWriter, b: LoggedBatch): void {
  log.write(b);
  log.syncNow();
}

/** runs `fn` with an empty folder for a log, removed afterwards */
async function withLogDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-msglog-'));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** a segment of three records (batches 1–3) written and closed: its file, its bytes, and where the third record starts */
async function threeRecords(dir: string, label: string): Promise<{ file: string; buf: Buffer; third: number }> {
  const log = new MessageLogWriter(dir);
  for (let i = 1; i <= 3; i++) append(log, batch(i, `${label} ${i}`));
  await log.close();
  const [n] = listSegments(dir);
  const file = path.join(dir, `${String(n).padStart(12, '0')}.log`);
  const buf = fs.readFileSync(file);
  let third = 0;
  for (let i = 0; i < 2; i++) third += 8 + buf.readUInt32LE(third);
  return { file, buf, third };
}

test('the message log reads back every synced record in order, across segments, and lets go of the segments behind a durable batch', () =>
  withLogDir(async (dir) => {
    // small segments: the 200 records fill several
    const log = new MessageLogWriter(dir, 8192);
    for (let i = 1; i <= 200; i++) append(log, batch(i, `第 ${i} 条：你好，我的订单还没到`));
    const segments = listSegments(dir);
    assert.ok(segments.length >= 5, `${segments.length} segments`);
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.equal([...readMessageLog(dir)][41]!.messages[0]!.message.body, '第 42 条：你好，我的订单还没到');
    log.retireThrough(100);
    const left = [...readMessageLog(dir)].map((b) => b.batchNo);
    assert.ok(left[0]! > 1 && left[0]! <= 101, `the oldest left is ${left[0]}`);
    assert.equal(left.at(-1), 200);
    assert.deepEqual(left, Array.from({ length: 200 - left[0]! + 1 }, (_, i) => left[0]! + i), 'no gap');
    await log.close();
  }));

test('a record that a crash cut short ends the log there: what was read before it stands, nothing after it is invented', () =>
  withLogDir(async (dir) => {
    const { file, buf, third: at } = await threeRecords(dir, '消息');
    // the third record: its length says more than was written (the tail of the payload is zeros)
    const third = buf.readUInt32LE(at);
    buf.fill(0, at + 8 + Math.floor(third / 2), at + 8 + third);
    fs.writeFileSync(file, buf);
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), [1, 2]);
    // a flipped byte inside the second record fails its check as well
    buf[at - 5] ^= 0xff;
    fs.writeFileSync(file, buf);
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), [1]);
  }));

test('a writer started beside the segments of an earlier run writes after them and removes them once told they are durable', () =>
  withLogDir(async (dir) => {
    const earlier = new MessageLogWriter(dir, 4096);
    for (let i = 1; i <= 40; i++) append(earlier, batch(i, `早先的消息 ${i}`));
    await earlier.close();
    const before = listSegments(dir);
    const log = new MessageLogWriter(dir, 4096);
    log.adoptEarlier();
    append(log, batch(41, '新的消息'));
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), Array.from({ length: 41 }, (_, i) => i + 1));
    log.retireThrough(40);
    assert.ok(listSegments(dir).every((s) => !before.includes(s)), 'the earlier segments are gone');
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), [41]);
    await log.close();
  }));

test('a record cut short in an older segment (the thread that wrote it ended there) hides nothing of the newer segments', () =>
  withLogDir(async (dir) => {
    const { file, buf, third } = await threeRecords(dir, '旧段');
    buf[third + 12] ^= 0xff;
    fs.writeFileSync(file, buf);
    // the next thread starts a segment of its own
    const next = new MessageLogWriter(dir);
    for (let i = 4; i <= 5; i++) append(next, batch(i, `新段 ${i}`));
    await next.close();
    assert.deepEqual([...readMessageLog(dir)].map((b) => b.batchNo), [1, 2, 4, 5]);
  }));
