import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { startTestServer, call, nextEvent } from '../support/server.ts';

test('the archive page exports what the search shows, as CSV and XLSX, with phones masked', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const srv = await startTestServer('sqlite');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-export-ui-'));
  try {
    const cookie = await srv.login('exporter');
    const customer = srv.customer();
    await nextEvent(customer, 'session');
    const first = await call(customer, 'message:send', { clientId: 'e1', text: '我要退款，电话 13800138000' });
    await call(customer, 'message:send', { conversationId: first.conversationId, clientId: 'e2', text: '退款单号 202611250001' });
    await call(customer, 'message:send', { conversationId: first.conversationId, clientId: 'e3', text: '和这次搜索无关的话' });

    const context = await browser.newContext({ acceptDownloads: true });
    const [name, value] = cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: srv.url }]);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${srv.url}/archive?q=${encodeURIComponent('退款')}`);
    await page.getByText(/共\s*2\s*条/).waitFor();

    const exportAs = async (label: RegExp) => {
      await page.getByRole('button', { name: /导\s*出/ }).click();
      const download = page.waitForEvent('download');
      await page.getByText(label).click();
      const file = path.join(dir, (await download).suggestedFilename());
      await (await download).saveAs(file);
      return file;
    };

    const csvFile = await exportAs(/导出 CSV/);
    assert.match(path.basename(csvFile), /^kefu-export-.*\.csv$/);
    const csv = fs.readFileSync(csvFile, 'utf8');
    assert.equal(csv.charCodeAt(0), 0xfeff, 'UTF-8 BOM for Excel');
    const lines = csv.slice(1).trim().split(/\r\n/);
    assert.equal(lines.length, 3, 'a header and the two hits');
    assert.ok(csv.includes('202611250001'), 'order numbers stay visible');
    assert.ok(!csv.includes('13800138000'), 'the phone number is masked');
    assert.ok(csv.includes('138****8000'));
    assert.ok(!csv.includes('和这次搜索无关的话'), 'only what the search finds');
    await page.getByText(/导出完成：2 条/).waitFor();

    const xlsxFile = await exportAs(/导出 Excel/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(xlsxFile);
    const texts: string[] = [];
    wb.worksheets[0]!.eachRow((row) => texts.push(row.values ? JSON.stringify(row.values) : ''));
    assert.equal(texts.length, 3);
    assert.ok(texts.some((r) => r.includes('138****8000')));
    await page.screenshot({ path: path.join(dir, 'export.png') });
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
