import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { testDialects, freshDatabase, tempDir } from '../../test/support/databases.ts';
import { sql } from 'kysely';
import { AuditLog, checkBackup, listAudit, listScheduledBackups, verifyIntegrity } from '../governance/index.ts';
import { openStore } from '../store/index.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { createServer } from './app.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { nextDailyRun, scheduledCheckpoint } from './schedules.ts';

test('the daily purge runs at the next local hh:mm, today or tomorrow', () => {
  const at = (h: number, m: number, day = 10) => new Date(2025, 4, day, h, m, 0, 0).getTime();
  assert.equal(nextDailyRun(at(1, 0), '03:30'), at(3, 30));
  assert.equal(nextDailyRun(at(3, 30), '03:30'), at(3, 30, 11));
  assert.equal(nextDailyRun(at(23, 59), '00:00'), at(0, 0, 11));
});

test('the daily checkpoint runs at KEFU_CHECKPOINT_AT local time (03:00 unless set), or not at all when off', () => {
  const at = (h: number, m: number, day = 10) => new Date(2025, 4, day, h, m, 0, 0).getTime();
  const checkpointAt = loadConfig({}).checkpointAt!;
  assert.equal(checkpointAt, '03:00');
  assert.equal(nextDailyRun(at(2, 59), checkpointAt), at(3, 0));
  assert.equal(nextDailyRun(at(3, 0), checkpointAt), at(3, 0, 11), 'a run that is due now is not repeated: the next one is tomorrow');
  assert.equal(nextDailyRun(at(14, 0), loadConfig({ KEFU_CHECKPOINT_AT: '23:45' }).checkpointAt!), at(23, 45));
  // the end of a month
  assert.equal(nextDailyRun(new Date(2025, 4, 31, 12, 0).getTime(), '03:00'), new Date(2025, 5, 1, 3, 0).getTime());
  assert.equal(loadConfig({ KEFU_CHECKPOINT_AT: 'off' }).checkpointAt, null);
  assert.throws(() => loadConfig({ KEFU_CHECKPOINT_AT: '24:00' }), /KEFU_CHECKPOINT_AT: must be a local time HH:MM/);
  assert.throws(() => loadConfig({ KEFU_CHECKPOINT_AT: 'daily' }), /KEFU_CHECKPOINT_AT/);
});

test('KEFU_RETENTION_PURGE_AT and the backup settings are validated', () => {
  assert.equal(loadConfig({}).retentionPurgeAt, '03:30');
  assert.equal(loadConfig({ KEFU_RETENTION_PURGE_AT: 'off' }).retentionPurgeAt, null);
  assert.throws(() => loadConfig({ KEFU_RETENTION_PURGE_AT: '3pm' }), /KEFU_RETENTION_PURGE_AT: must be a local time HH:MM/);
  assert.throws(() => loadConfig({ KEFU_BACKUP_INTERVAL_HOURS: '0' }), /KEFU_BACKUP_INTERVAL_HOURS/);
  assert.throws(() => loadConfig({ KEFU_BACKUP_KEEP: '0' }), /KEFU_BACKUP_KEEP/);
  assert.match(loadConfig({ KEFU_BACKUP_DIR: 'backups' }).backupDir!, /\/backups$/);
});

for (const dialect of testDialects()) {
  test(`a scheduled checkpoint pins the chain heads, is audited and logged, and kefu verify checks it (${dialect})`, async () => {
    const db = await freshDatabase(dialect);
    const store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
    try {
      const audit = new AuditLog(store.db, store.dialect);
      const appender = new MessageAppender(store.db, store.dialect);
      const customer = await createCustomer(store.db, { name: '定时校验客户' });
      const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web' });
      for (const body of ['你好，我要退款', '好的，请提供订单号']) await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body });
      await appender.idle();

      const logged: unknown[] = [];
      const c = await scheduledCheckpoint({ store, audit, log: { info: (o: unknown) => logged.push(o) } as never });
      assert.ok(c, 'a checkpoint was written');
      assert.equal(c.conversations, 1);
      assert.match(c.merkleRoot, /^[0-9a-f]{64}$/);
      assert.deepEqual(logged, [{ checkpoint: c.id, at: c.at, conversations: 1, merkleRoot: c.merkleRoot, hash: c.hash }], 'the Merkle root goes to the log, to be kept outside kefu');
      const [event] = await listAudit(store.db, { action: 'config.change' });
      assert.equal(event?.actor.login, 'kefu-scheduler');
      assert.deepEqual(event?.target, { type: 'checkpoint', id: String(c.id) });
      assert.deepEqual(event?.detail, { merkleRoot: c.merkleRoot, conversations: 1, scheduled: true });

      // another node of the cluster, firing at the same minute, finds the fresh checkpoint and writes none
      assert.equal(await scheduledCheckpoint({ store, audit, log: { info: () => {} } as never }), null);
      assert.equal((await store.db.selectFrom('chain_checkpoint').select('id').execute()).length, 1);

      const verified = await verifyIntegrity(store.db);
      assert.deepEqual(verified.broken, []);
      assert.equal(verified.checkpoints.checked, 1);

      // a day later the next scheduled checkpoint is written and pins only what grew since
      await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: customer.id }, type: 'text', body: '订单号 20250510001' });
      await appender.idle();
      const tomorrow = Date.now() + 24 * 3_600_000;
      const realNow = Date.now;
      Date.now = () => tomorrow;
      let next;
      try {
        next = await scheduledCheckpoint({ store, audit, log: { info: () => {} } as never });
      } finally {
        Date.now = realNow;
      }
      assert.equal(next?.conversations, 1);
      assert.deepEqual((await verifyIntegrity(store.db)).broken, []);

      // what verify checks: a changed checkpoint (here its Merkle root, rewritten to hide something) is named
      await sql`update chain_checkpoint set merkle_root = ${'0'.repeat(64)} where id = ${c.id}`.execute(store.db);
      const after = await verifyIntegrity(store.db);
      assert.match(after.lines.checkpoints ?? '', new RegExp(`BROKEN checkpoint ${c.id}`));
    } finally {
      await store.close();
      await db.drop();
    }
  });

  describe(`scheduled backups (${dialect})`, () => {
    test('kefu serve takes a backup every interval, keeps the newest N, audits each, and marks its data folder', async () => {
      const db = await freshDatabase(dialect);
      const backupDir = tempDir('kefu-scheduled-');
      // 0.0005 hours: a backup about every two seconds
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl, KEFU_BACKUP_DIR: backupDir, KEFU_BACKUP_INTERVAL_HOURS: '0.0005', KEFU_BACKUP_KEEP: '2' });
      const server = await createServer(config, { logger: createLogger('silent') });
      const pidFile = path.join(db.dataDir, 'kefu.pid');
      try {
        if (dialect === 'sqlite') assert.equal(JSON.parse(fs.readFileSync(pidFile, 'utf8')).pid, process.pid);
        const deadline = Date.now() + 90_000;
        let events = await listAudit(server.store.db, { action: 'backup.create' });
        while (events.length < 3 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          events = await listAudit(server.store.db, { action: 'backup.create' });
        }
        assert.ok(events.length >= 3, `3 scheduled backups, got ${events.length}`);
        assert.ok(events.every((e) => e.actor.login === 'kefu-scheduler' && (e.detail as { scheduled: boolean }).scheduled));
      } finally {
        await server.close();
      }
      try {
        const kept = listScheduledBackups(backupDir);
        assert.equal(kept.length, 2, 'only the newest two are kept');
        for (const b of kept) assert.equal((await checkBackup(b.file)).manifest.dialect, dialect);
        assert.deepEqual(fs.readdirSync(backupDir).filter((f) => f.endsWith('.partial')), []);
        assert.equal(fs.existsSync(pidFile), false, 'the data folder is released when the server stops');
      } finally {
        await db.drop();
        fs.rmSync(backupDir, { recursive: true, force: true });
      }
    });
  });
}
