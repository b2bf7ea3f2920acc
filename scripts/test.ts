/**
 * The whole test suite: starts the services the tests need (a throwaway PostgreSQL cluster), runs every
 * *.test.ts under src/ and test/ with node's test runner, and tears the services down.
 * Extra arguments filter test files by substring: `npm test -- gateway`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres, type PgCluster } from '../test/support/postgres.ts';

const root = path.resolve(import.meta.dirname, '..');
const filters = process.argv.slice(2);

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.test.ts')) out.push(path.relative(root, path.join(e.parentPath, e.name)));
  }
  return out;
}

const files = [...findTests('src'), ...findTests('test')].filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(' ')}\n`);
  process.exit(1);
}

let pg: PgCluster | undefined;
try {
  process.stderr.write('starting a throwaway PostgreSQL cluster…\n');
  pg = await startPostgres();
} catch (err) {
  if (process.env.CI === 'true') throw err;
  process.stderr.write(`PostgreSQL unavailable (${(err as Error).message}); PostgreSQL variants will be skipped\n`);
}

const env = { ...process.env, KEFU_TEST_PG_URL: pg?.url ?? '' };
if (!pg) delete (env as Record<string, string | undefined>).KEFU_TEST_PG_URL;
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], { cwd: root, env, stdio: 'inherit' });
const code: number = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
await pg?.stop();
process.exit(code);
