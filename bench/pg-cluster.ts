/**
 * A throwaway PostgreSQL cluster for the archive benchmarks, kept running between the generator and the search
 * benchmark: test/support/postgres.ts startPostgres() (initdb, loopback port, fsync=off, synchronous_commit=off,
 * full_page_writes=off, otherwise PostgreSQL's defaults) with its folder under --base (default /tmp/kefu-bench-pg).
 * Prints the URL (and writes it to --url-file), then waits; SIGINT/SIGTERM stop the cluster and delete its folder.
 *
 *   nohup npx tsx bench/pg-cluster.ts --url-file bench/out/pg-url > bench/out/pg-cluster.log 2>&1 &
 */
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres } from '../test/support/postgres.ts';
import { flag } from './lib/args.ts';

const base = flag('base') ?? '/tmp/kefu-bench-pg';
fs.mkdirSync(base, { recursive: true });
fs.chmodSync(base, 0o755);
// startPostgres makes its folder with mkdtemp under os.tmpdir(), which follows TMPDIR
process.env.TMPDIR = base;
const cluster = await startPostgres();
const urlFile = flag('url-file');
if (urlFile) {
  fs.mkdirSync(path.dirname(urlFile), { recursive: true });
  fs.writeFileSync(urlFile, cluster.url);
}
console.log(`postgres ready: ${cluster.url} (folder under ${base}); pid ${process.pid}: kill -TERM ${process.pid} to stop and delete it`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
  if (urlFile) fs.rmSync(urlFile, { force: true });
  console.log('postgres stopped and deleted');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
