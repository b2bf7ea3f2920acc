import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freshDatabase, testDialects } from '../../../test/support/databases.ts';
import { openStore } from '../../store/index.ts';
import { MessageAppender } from '../../conversations/index.ts';
import { listAudit } from '../../governance/index.ts';
import { parseCsv, seedExportFixture, type Fixture } from './test-fixture.ts';

const root = path.resolve(import.meta.dirname, '../../..');

for (const dialect of testDialects()) {
  describe(`kefu export (${dialect})`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let fx: Fixture;
    const kefu = (args: string[]) =>
      spawnSync(process.execPath, [path.join(root, 'bin/kefu.mjs'), 'export', ...args], {
        env: { ...process.env, KEFU_DATA_DIR: db.dataDir, KEFU_DATABASE_URL: db.databaseUrl ?? '', KEFU_LOG_LEVEL: 'warn' },
        encoding: 'utf8',
      });

    before(async () => {
      db = await freshDatabase(dialect);
      const store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      fx = await seedExportFixture(store.db, new MessageAppender(store.db, store.dialect));
      await store.close();
    });
    after(async () => db.drop());

    test('writes the file, prints rows, size, sha256 and speed, and audits the export', async () => {
      const out = path.join(db.dataDir, 'complaints.csv');
      const r = kefu(['--out', out, '--tag', '投诉', '--tz', 'Asia/Shanghai']);
      assert.equal(r.status, 0, r.stderr);
      const bytes = fs.readFileSync(out);
      const rows = parseCsv(bytes.subarray(3).toString('utf8')).slice(1);
      assert.equal(rows.length, 5);
      assert.ok(rows.every((row) => row[0] === fx.conversations.a && row[8]!.endsWith('+08:00')));
      assert.match(r.stdout, /^exported 5 messages to .*complaints\.csv \(csv, [\d.]+ MB, masked, times in Asia\/Shanghai\)$/m);
      assert.match(r.stdout, /^elapsed [\d.]+ s, [\d,]+ rows\/s$/m);
      assert.match(r.stdout, new RegExp(`^sha256 ${createHash('sha256').update(bytes).digest('hex')}$`, 'm'));
      assert.ok(!fs.existsSync(`${out}.part`));

      const store = await openStore({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
      try {
        const [event] = await listAudit(store.db, { action: 'export' });
        assert.equal(event?.actor.login, 'local-operator');
        assert.deepEqual((event?.query as { tag: string }).tag, '投诉');
      } finally {
        await store.close();
      }

      const again = kefu(['--out', out]);
      assert.equal(again.status, 2);
      assert.match(again.stderr, /exists; add --force/);
      assert.equal(kefu(['--out', out, '--force', '--format', 'xlsx']).status, 0);
      assert.equal(fs.readFileSync(out).subarray(0, 2).toString(), 'PK', 'an XLSX is a zip file');
    });

    // the checks do not depend on the dialect; one run keeps the suite short (each case starts a process)
    test('bad options are refused with a clear message and exit status 2', { skip: dialect !== 'sqlite' && 'checked with SQLite' }, () => {
      const out = path.join(db.dataDir, 'x.csv');
      const cases: Array<[string[], RegExp]> = [
        [['--out', path.join(db.dataDir, 'x.txt')], /--format: say csv or xlsx/],
        [['--out', out, '--from', 'last week'], /--from: must be an ISO 8601 date/],
        [['--out', out, '--agent', 'nobody-here'], /--agent: no staff account with login "nobody-here"/],
        [[], /required option '--out <file>'/],
      ];
      for (const [args, message] of cases) {
        const r = kefu(args);
        assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message);
        assert.ok(!fs.existsSync(out));
      }
    });
  });
}
