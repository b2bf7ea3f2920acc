import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { CSRF, startTestServer, type TestServer } from '../../../test/support/server.ts';
import { freshStore, tempDir, testDialects } from '../../../test/support/databases.ts';
import { MessageAppender } from '../../conversations/index.ts';
import { listAudit, viewerOf } from '../../governance/index.ts';
import { ExportJobs } from './jobs.ts';
import { parseCsv, seedExportFixture, type Fixture } from './test-fixture.ts';

for (const dialect of testDialects()) {
  describe(`export jobs over HTTP (${dialect})`, () => {
    let t: TestServer;
    let fx: Fixture;
    let owner: string;
    let other: string;

    before(async () => {
      t = await startTestServer(dialect);
      fx = await seedExportFixture(t.server.store.db, t.server.appender);
      owner = await t.login('auditor-li', 'auditor');
      other = await t.login('auditor-wu', 'auditor');
    });
    after(async () => t.close());

    const api = (cookie: string | null, method: string, url: string, body?: unknown) =>
      fetch(`${t.url}${url}`, {
        method,
        headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json', ...CSRF }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const until = async (cookie: string, id: string) => {
      for (let i = 0; i < 200; i++) {
        const { job } = (await (await api(cookie, 'GET', `/api/v1/exports/${id}`)).json()) as { job: { state: string } & Record<string, unknown> };
        if (job.state === 'done' || job.state === 'failed') return job;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`export ${id} did not finish`);
    };

    test('create → poll → download a CSV; the file is the one the job describes', async () => {
      const res = await api(owner, 'POST', '/api/v1/exports', { format: 'csv', q: '退款', tz: 'Asia/Shanghai' });
      assert.equal(res.status, 202);
      const { job } = (await res.json()) as { job: Record<string, unknown> };
      assert.match(String(job.id), /^exp_[0-9a-f]{32}$/);
      assert.ok(['queued', 'running', 'done'].includes(String(job.state)));
      assert.equal(job.format, 'csv');
      assert.match(String(job.filename), /^kefu-export-\d{8}-\d{6}\.csv$/);

      const done = await until(owner, String(job.id));
      assert.equal(done.state, 'done');
      assert.equal(done.progress, 1);
      assert.equal(done.rows, 2);
      assert.equal(done.totalRows, 2);
      assert.ok(done.finishedAt && done.expiresAt);

      const file = await api(owner, 'GET', `/api/v1/exports/${job.id}/download`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.equal(file.headers.get('content-disposition'), `attachment; filename="${done.filename}"`);
      const bytes = Buffer.from(await file.arrayBuffer());
      assert.equal(createHash('sha256').update(bytes).digest('hex'), done.sha256);
      assert.equal(file.headers.get('x-content-sha256'), done.sha256);
      assert.equal(bytes.length, done.bytes);
      const records = parseCsv(bytes.subarray(3).toString('utf8'));
      assert.equal(records.length, 3);
      assert.deepEqual(
        records.slice(1).map((r) => r[10]),
        ['你好，我的手机号是138****8000，订单202611250001的退款还没到账', '退款 refund please'],
      );

      const audit = await listAudit(t.server.store.db, { action: 'export', actor: 'auditor-li' });
      assert.deepEqual(audit.map((e) => (e.detail as { phase: string }).phase).sort(), ['downloaded', 'requested']);
    });

    test('an XLSX job gives a workbook with the rows', async () => {
      const { job } = (await (await api(owner, 'POST', '/api/v1/exports', { format: 'xlsx', channel: 'email' })).json()) as { job: { id: string } };
      const done = await until(owner, job.id);
      assert.equal(done.state, 'done');
      const file = await api(owner, 'GET', `/api/v1/exports/${job.id}/download`);
      assert.equal(file.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      assert.match(String(file.headers.get('content-disposition')), /filename="kefu-export-\d{8}-\d{6}\.xlsx"/);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(Buffer.from(await file.arrayBuffer()) as unknown as ArrayBuffer);
      assert.equal(wb.worksheets[0]!.rowCount, 4, 'a header and the three email messages');
      assert.equal(wb.worksheets[0]!.getRow(2).getCell(11).value, '发票抬头写错了，邮箱 l***@example.com');
    });

    test('only the user who asked sees a job: 404 for everybody else, 401 without a session', async () => {
      const { job } = (await (await api(owner, 'POST', '/api/v1/exports', { format: 'csv' })).json()) as { job: { id: string } };
      await until(owner, job.id);
      for (const url of [`/api/v1/exports/${job.id}`, `/api/v1/exports/${job.id}/download`, '/api/v1/exports/exp_nope']) {
        const r = await api(other, 'GET', url);
        assert.equal(r.status, 404, url);
        assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'export_not_found');
      }
      const mine = (await (await api(owner, 'GET', '/api/v1/exports')).json()) as { jobs: Array<{ id: string }> };
      assert.ok(mine.jobs.some((j) => j.id === job.id));
      assert.deepEqual(((await (await api(other, 'GET', '/api/v1/exports')).json()) as { jobs: unknown[] }).jobs, []);
      assert.equal((await api(null, 'POST', '/api/v1/exports', { format: 'csv' })).status, 401);
      assert.equal((await api(null, 'GET', `/api/v1/exports/${job.id}`)).status, 401);
    });

    test('an agent exports only what they may read', async () => {
      const agent = await t.login('export-agent', 'agent');
      const { job } = (await (await api(agent, 'POST', '/api/v1/exports', { format: 'csv' })).json()) as { job: { id: string } };
      const done = await until(agent, job.id);
      // the general queue (no group, nobody assigned) only: conversation b's three messages
      assert.equal(done.rows, 3);
      const bytes = Buffer.from(await (await api(agent, 'GET', `/api/v1/exports/${job.id}/download`)).arrayBuffer());
      assert.ok(parseCsv(bytes.subarray(3).toString('utf8')).slice(1).every((r) => r[0] === fx.conversations.b));
    });

    test('bad requests are refused with a code and a message', async () => {
      const cases: Array<[unknown, number, string]> = [
        [{ format: 'pdf' }, 400, 'invalid_request'],
        [{}, 400, 'invalid_request'],
        [{ format: 'csv', from: 'yesterday' }, 400, 'invalid_request'],
        [{ format: 'csv', tz: 'Mars/Base' }, 400, 'invalid_request'],
        [{ format: 'csv', sort: 'time' }, 400, 'invalid_request'],
        [{ format: 'csv', agent: 'nobody-here' }, 400, 'unknown_agent'],
      ];
      for (const [body, status, code] of cases) {
        const r = await api(owner, 'POST', '/api/v1/exports', body);
        assert.equal(r.status, status, JSON.stringify(body));
        const err = ((await r.json()) as { error: { code: string; message: string } }).error;
        assert.equal(err.code, code, JSON.stringify(body));
        assert.ok(err.message.length > 5);
      }
    });

    test('jobs and files past the retention are removed, files of an earlier run included', async () => {
      const dir = tempDir('kefu-export-jobs-');
      const store = await freshStore(dialect);
      try {
        const f = await seedExportFixture(store.db, new MessageAppender(store.db, store.dialect));
        const orphan = path.join(dir, 'exp_from_last_week.csv');
        fs.writeFileSync(orphan, 'old');
        const lastWeek = new Date(Date.now() - 7 * 86_400_000);
        fs.utimesSync(orphan, lastWeek, lastWeek);
        const jobs = new ExportJobs(store, dir, { retentionMs: 60_000 });
        assert.ok(!fs.existsSync(orphan), 'an old file is removed at start');
        const viewer = await viewerOf(store.db, f.wang);
        const job = await jobs.create(viewer, { format: 'csv', filters: { q: '' }, timeZone: 'UTC' });
        while (job.state === 'queued' || job.state === 'running') await new Promise((r) => setTimeout(r, 20));
        assert.equal(job.state, 'done');
        assert.ok(fs.existsSync(job.file));
        jobs.sweep(Date.now() + 30_000);
        assert.ok(jobs.get(viewer.id, job.id) && fs.existsSync(job.file), 'kept within the retention');
        jobs.sweep(Date.now() + 61_000);
        assert.equal(jobs.get(viewer.id, job.id), undefined);
        assert.ok(!fs.existsSync(job.file));
        await jobs.close();
      } finally {
        await store.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
