import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from './support/databases.ts';

const root = path.resolve(import.meta.dirname, '..');
const work = tempDir('kefu-import-cli-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

function kefu(args: string[], dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(root, 'bin/kefu.mjs'), ...args], {
    env: { ...process.env, KEFU_DATA_DIR: dataDir, KEFU_DATABASE_URL: '', KEFU_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr })));
}

test('kefu import: exit 1 and a JSON summary naming the bad line, then 0 with nothing new on the second run', async () => {
  const dataDir = path.join(work, 'data');
  const file = path.join(work, 'chats.ndjson');
  fs.writeFileSync(file, [JSON.stringify({ id: 'cli-1', turns: [{ role: 'customer', text: '你好' }, { role: 'agent', text: '您好' }] }), '{"id": "cli-2", "turns": "no"}', ''].join('\n'));

  const first = await kefu(['import', file, '--json'], dataDir);
  assert.equal(first.code, 1, first.stderr);
  const summary = JSON.parse(first.stdout);
  assert.deepEqual(summary.conversations, { imported: 1, alreadyImported: 0, skipped: 1 });
  assert.equal(summary.messages, 2);
  assert.deepEqual(summary.badLines, [{ line: 2, id: 'cli-2', reason: 'turns must be an array (got "no")' }]);
  assert.doesNotMatch(first.stderr, /importing \[/, 'no progress bar when stderr is not a terminal');

  fs.writeFileSync(file, JSON.stringify({ id: 'cli-1', turns: [{ role: 'customer', text: '你好' }] }) + '\n');
  const second = await kefu(['import', file], dataDir);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /imported: 0 conversations, 0 messages\n {2}already imported: 1\n {2}skipped: 0\n/);
});

test('kefu import: exit 2 for a file that is not there, without creating a database', async () => {
  const dataDir = path.join(work, 'never');
  const r = await kefu(['import', path.join(work, 'missing.jsonl')], dataDir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /kefu import: cannot read .*missing\.jsonl: no such file/);
  assert.equal(fs.existsSync(dataDir), false);
});
