import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { testDialects, freshDatabase, tempDir } from '../../test/support/databases.ts';
import { openStore, type DialectName, type Store } from '../store/index.ts';
import { createCustomer } from '../customers/index.ts';
import { MessageAppender, openConversation } from '../conversations/index.ts';
import { writeMessageBatch } from '../conversations/append-batch.ts';
import { createServer } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { LOCAL_OPERATOR, verifyAuditChain } from './audit.ts';
import { verifyMessageChains } from './integrity.ts';
import { addPolicy, purgeExpired, verifyPurgeRecords } from './retention.ts';
import { checkBackup, createBackup, markDataDirInUse, restoreBackup, type BackupTarget } from './backup.ts';

const root = path.resolve(import.meta.dirname, '../..');

type Db = Awaited<ReturnType<typeof freshDatabase>>;
const targetOf = (d: Db): BackupTarget => ({ dataDir: d.dataDir, databaseUrl: d.databaseUrl });
const ext = (dialect: DialectName) => (dialect === 'sqlite' ? 'sqlite' : 'dump');

async function conversations(store: Store, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const customer = await createCustomer(store.db, { name: `备份客户 ${i}` });
    ids.push((await openConversation(store.db, { customerId: customer.id, channel: 'web' })).conversation.id);
  }
  return ids;
}

/** A resolved conversation 40 days old, purged by a 30-day policy: the backup must carry tombstones that verify. */
async function purgedConversation(store: Store, appender: MessageAppender): Promise<void> {
  const at = Date.now() - 40 * 86_400_000;
  const customer = await createCustomer(store.db, { name: '旧客户' });
  const { conversation } = await openConversation(store.db, { customerId: customer.id, channel: 'web', createdAt: at });
  for (let i = 0; i < 3; i++) await appender.append({ conversationId: conversation.id, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `旧消息 ${i}`, createdAt: at + i });
  // the purge reads the database, which the SQLite writer brings up to its acks a moment later
  await appender.settled();
  await store.db.updateTable('conversation').set({ state: 'resolved', resolved_at: at + 10 }).where('id', '=', conversation.id).execute();
  await addPolicy(store, { name: '30 天', keepDays: 30 }, LOCAL_OPERATOR);
  assert.equal((await purgeExpired(store, { actor: LOCAL_OPERATOR })).messages, 3);
}

for (const dialect of testDialects()) {
  describe(`backup and restore (${dialect})`, () => {
    test('a backup taken under write load restores to a state that verifies and holds every message acknowledged before it started', async () => {
      const source = await freshDatabase(dialect);
      const restored = await freshDatabase(dialect);
      const dir = tempDir('kefu-backup-');
      const store = await openStore({ dataDir: source.dataDir, databaseUrl: source.databaseUrl });
      try {
        const appender = new MessageAppender(store.db, store.dialect);
        await purgedConversation(store, appender);
        const convIds = await conversations(store, 4);
        const acked: Array<{ id: string; conversationId: string; seq: number; hash: string }> = [];
        let stop = false;
        // one writer per conversation, each sending as fast as its acks come back, as a busy agent console would
        const writers = convIds.map(async (conversationId, w) => {
          for (let n = 0; !stop; n++) {
            const { message } = await appender.append({ conversationId, clientId: `w${w}-${n}`, sender: { kind: n % 2 ? 'agent' : 'customer', id: null }, type: 'text', body: `写入负载 ${w}-${n}：订单 ${100000 + n} 的退款进度` });
            acked.push({ id: message.id, conversationId, seq: message.seq, hash: message.hash });
            await new Promise((r) => setImmediate(r));
          }
        });
        while (acked.length < 200) await new Promise((r) => setTimeout(r, 20));

        const ackedBefore = acked.slice();
        const file = path.join(dir, `kefu.${ext(dialect)}`);
        const manifest = await createBackup(targetOf(source), file);
        const ackedDuring = acked.length - ackedBefore.length;
        await new Promise((r) => setTimeout(r, 100));
        stop = true;
        await Promise.all(writers);
        assert.ok(ackedDuring > 0, 'messages were being written while the backup ran');

        assert.equal(manifest.dialect, dialect);
        assert.equal((await checkBackup(file)).manifest.sha256, manifest.sha256);
        assert.ok(manifest.counts.messages >= ackedBefore.length + 3);
        assert.ok(manifest.counts.messages < acked.length + 3, 'messages acknowledged after the backup are not in it');

        await restoreBackup(targetOf(restored), file);
        const copy = await openStore({ dataDir: restored.dataDir, databaseUrl: restored.databaseUrl });
        try {
          const chains = await verifyMessageChains(copy.db);
          assert.equal(chains.broken, null);
          assert.equal(chains.purged, 3);
          assert.equal(chains.messages, manifest.counts.messages);
          assert.equal((await verifyAuditChain(copy.db)).broken, null);
          assert.equal((await verifyPurgeRecords(copy.db)).broken, null);
          const rows = await copy.db.selectFrom('message').select(['id', 'conversation_id', 'seq', 'hash']).where('id', 'in', ackedBefore.map((m) => m.id)).execute();
          assert.equal(rows.length, ackedBefore.length, 'every message acknowledged before the backup started is in it');
          const byId = new Map(rows.map((r) => [r.id, r]));
          for (const m of ackedBefore) assert.deepEqual({ ...byId.get(m.id)!, seq: Number(byId.get(m.id)!.seq) }, { id: m.id, conversation_id: m.conversationId, seq: m.seq, hash: m.hash });
        } finally {
          await copy.close();
        }
      } finally {
        await store.close();
        await source.drop();
        await restored.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('restore replaces a database that has moved on, and refuses while a server uses it unless forced', async () => {
      const db = await freshDatabase(dialect);
      const dir = tempDir('kefu-backup-');
      let store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      try {
        const appender = new MessageAppender(store.db, store.dialect);
        const [conv] = await conversations(store, 1);
        for (let i = 0; i < 5; i++) await appender.append({ conversationId: conv!, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `备份前 ${i}` });
        const file = path.join(dir, `b.${ext(dialect)}`);
        await createBackup(targetOf(db), file);
        for (let i = 0; i < 5; i++) await appender.append({ conversationId: conv!, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `备份后 ${i}` });

        if (dialect === 'sqlite') {
          // the pid file names this (live) process: the data folder is in use
          const unmark = markDataDirInUse(db.dataDir);
          await assert.rejects(restoreBackup(targetOf(db), file), /is using .*stop it first/);
          unmark();
          // a pid file left behind by a process that is gone does not count
          fs.writeFileSync(path.join(db.dataDir, 'kefu.pid'), JSON.stringify({ pid: 2 ** 22 + 12345 }));
          await store.close();
          const r = await restoreBackup(targetOf(db), file);
          assert.ok(r.movedAside && fs.existsSync(r.movedAside), 'the replaced database is kept');
        } else {
          // the open store holds connections to the database, as a running server would
          await assert.rejects(restoreBackup(targetOf(db), file), /other session\(s\) are connected/);
          await restoreBackup(targetOf(db), file, { force: true });
          await store.close();
        }
        store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
        const bodies = (await store.db.selectFrom('message').select('body').where('conversation_id', '=', conv!).orderBy('seq').execute()).map((m) => m.body);
        assert.deepEqual(bodies, [0, 1, 2, 3, 4].map((i) => `备份前 ${i}`));
        assert.equal((await verifyMessageChains(store.db)).broken, null);
        // the append-only triggers came back with the data
        await assert.rejects(sql`update message set body = 'changed' where conversation_id = ${conv!}`.execute(store.db), /append-only/);
        await assert.rejects(sql`delete from message where conversation_id = ${conv!}`.execute(store.db), /append-only/);
        // the restored database is a working one: writing continues the restored chain
        await new MessageAppender(store.db, store.dialect).append({ conversationId: conv!, clientId: null, sender: { kind: 'agent', id: null }, type: 'text', body: '恢复后' });
        assert.equal((await verifyMessageChains(store.db)).broken, null);
      } finally {
        await store.close();
        await db.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('restore refuses a corrupted backup, one without its manifest, and one of the other database kind', async () => {
      const db = await freshDatabase(dialect);
      const dir = tempDir('kefu-backup-');
      const store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      try {
        const [conv] = await conversations(store, 1);
        await new MessageAppender(store.db, store.dialect).append({ conversationId: conv!, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: '原始内容' });
        const file = path.join(dir, `b.${ext(dialect)}`);
        await createBackup(targetOf(db), file);
        await assert.rejects(createBackup(targetOf(db), file), /already exists/);
        await store.close();

        const corrupted = path.join(dir, `c.${ext(dialect)}`);
        const bytes = fs.readFileSync(file);
        bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
        fs.writeFileSync(corrupted, bytes);
        fs.copyFileSync(`${file}.json`, `${corrupted}.json`);
        await assert.rejects(restoreBackup(targetOf(db), corrupted), /does not match its manifest.*corrupted or was altered/);
        const noManifest = path.join(dir, `n.${ext(dialect)}`);
        fs.copyFileSync(file, noManifest);
        await assert.rejects(restoreBackup(targetOf(db), noManifest), /manifest\) does not exist/);
        const otherKind: BackupTarget = dialect === 'sqlite' ? { dataDir: db.dataDir, databaseUrl: 'postgres://kefu@127.0.0.1:1/none' } : { dataDir: db.dataDir };
        await assert.rejects(restoreBackup(otherKind, file), new RegExp(`this is a ${dialect} backup`));

        if (dialect === 'postgres') {
          // KEFU_DATABASE_URL pointing at another application's database: restore would drop its tables
          const foreign = await freshDatabase(dialect);
          const other = await openStore({ dataDir: foreign.dataDir, databaseUrl: foreign.databaseUrl });
          await sql`drop table kefu_migration, kefu_migration_lock`.execute(other.db);
          await other.close();
          try {
            await assert.rejects(restoreBackup(targetOf(foreign), file), /holds \d+ tables but none of kefu's/);
          } finally {
            await foreign.drop();
          }
        }

        // nothing was touched by the refusals
        const again = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
        try {
          assert.deepEqual((await again.db.selectFrom('message').select('body').execute()).map((m) => m.body), ['原始内容']);
          if (dialect === 'sqlite') assert.deepEqual(fs.readdirSync(db.dataDir).filter((f) => f.includes('before-restore')), []);
        } finally {
          await again.close();
        }
      } finally {
        await db.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('kefu backup while the server runs, kefu restore after it stopped, then kefu verify passes', async () => {
      const db = await freshDatabase(dialect);
      const dir = tempDir('kefu-backup-');
      const env = { ...process.env, KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl ?? '', KEFU_LOG_LEVEL: 'silent' };
      const kefu = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env, encoding: 'utf8' });
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl, KEFU_RETENTION_PURGE_AT: 'off' });
      const server = await createServer(config, { logger: createLogger('silent') });
      let closed = false;
      try {
        await purgedConversation(server.store, server.appender);
        const [conv] = await conversations(server.store, 1);
        for (let i = 0; i < 10; i++) await server.appender.append({ conversationId: conv!, clientId: null, sender: { kind: 'customer', id: null }, type: 'text', body: `在线备份 ${i}` });
        // another process reads the database: with SQLite it holds the acknowledged messages a moment after their acks
        await server.appender.settled();
        const file = path.join(dir, `kefu-cli.${ext(dialect)}`);
        const backup = kefu('backup', file);
        assert.equal(backup.status, 0, backup.stderr);
        assert.match(backup.stdout, /backup written: .*2 conversations, 13 messages/);
        assert.ok(fs.existsSync(`${file}.json`));

        const refused = kefu('restore', file);
        assert.equal(refused.status, 1);
        assert.match(refused.stderr, dialect === 'sqlite' ? /a kefu server \(pid \d+\) is using/ : /other session\(s\) are connected/);

        await server.close();
        closed = true;
        const restore = kefu('restore', file);
        assert.equal(restore.status, 0, restore.stdout + restore.stderr);
        assert.match(restore.stdout, /verified: 2 conversations, 13 messages \(3 purged by retention\)/);
        const verify = kefu('verify');
        assert.equal(verify.status, 0, verify.stdout + verify.stderr);
        assert.match(verify.stdout, /ok: 2 conversations, 13 messages verified/);
        assert.match(verify.stdout, /ok: 3 purged messages match 1 audited retention purges/);
        const audit = kefu('audit', '--json');
        const actions = audit.stdout.trim().split('\n').map((l) => JSON.parse(l).action);
        assert.equal(actions[0], 'backup.restore', 'the restore is the newest event of the restored trail');
      } finally {
        if (!closed) await server.close();
        await db.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

test('kefu restore indexes the messages a backup of a running server held without search-index entries (sqlite)', async () => {
  const db = await freshDatabase('sqlite');
  const dir = tempDir('kefu-backup-index-');
  const env = { ...process.env, KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: '', KEFU_LOG_LEVEL: 'silent' };
  const kefu = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], { env, encoding: 'utf8' });
  try {
    const store = await openStore({ dataDir: db.dataDir });
    const [conv] = await conversations(store, 1);
    // committed by the writer thread, whose index entries were still waiting when the backup was taken
    await store.db.transaction().execute((trx) =>
      writeMessageBatch(trx, 'sqlite', [0, 1].map((i) => ({ conversationId: conv!, clientId: `late-${i}`, sender: { kind: 'customer' as const, id: null }, type: 'text' as const, body: `物流单号还没更新 ${i}` })), []),
    );
    await store.close();
    const file = path.join(dir, 'kefu-index.sqlite');
    assert.equal(kefu('backup', file).status, 0);
    assert.match(kefu('search', '物流单号').stdout, /no messages found|0 messages|没有/i, 'not in the index before the restore');
    const restore = kefu('restore', file);
    assert.equal(restore.status, 0, restore.stdout + restore.stderr);
    assert.match(restore.stdout, /indexed 2 messages the backup held without search-index entries/);
    const found = kefu('search', '物流单号', '--json');
    assert.equal(found.stdout.trim().split('\n').filter(Boolean).length, 2, found.stdout + found.stderr);
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
