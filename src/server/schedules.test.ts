import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { testDialects, freshDatabase, tempDir } from '../../test/support/databases.ts';
import { checkBackup, listAudit, listScheduledBackups } from '../governance/index.ts';
import { createServer } from './app.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { nextDailyRun } from './schedules.ts';

test('the daily purge runs at the next local hh:mm, today or tomorrow', () => {
  const at = (h: number, m: number, day = 10) => new Date(2025, 4, day, h, m, 0, 0).getTime();
  assert.equal(nextDailyRun(at(1, 0), '03:30'), at(3, 30));
  assert.equal(nextDailyRun(at(3, 30), '03:30'), at(3, 30, 11));
  assert.equal(nextDailyRun(at(23, 59), '00:00'), at(0, 0, 11));
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
