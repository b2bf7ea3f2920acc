import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { z } from 'zod';
import { sqliteFile, type DialectName } from '../store/index.ts';
import { fsyncDir } from '../store/fsync-dir.ts';

/**
 * Backups and restores. A backup is two files: FILE (an SQLite database copy, or a pg_dump custom-format archive) and
 * FILE.json, its manifest (what it is, when it was taken, its size and sha256). Restore refuses a file that does not
 * match its manifest. See docs/OPERATIONS.md.
 */

export class BackupError extends Error {}

export interface BackupTarget {
  /** postgres://… — absent for the embedded SQLite database in dataDir */
  databaseUrl?: string;
  dataDir: string;
  /** folder of pg_dump, pg_restore and psql; found on PATH or under /usr/lib/postgresql when absent */
  pgBinDir?: string;
}

const manifestSchema = z.object({
  format: z.literal('kefu-backup'),
  formatVersion: z.literal(1),
  dialect: z.enum(['sqlite', 'postgres']),
  kefuVersion: z.string(),
  schemaVersion: z.string().nullable(),
  createdAt: z.string(),
  file: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  counts: z.object({ conversations: z.number(), messages: z.number(), auditEvents: z.number() }),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

export interface BackupProgress {
  /** 0…1 when known */
  fraction: number;
  note?: string;
}

export function dialectOfTarget(t: BackupTarget): DialectName {
  return t.databaseUrl ? 'postgres' : 'sqlite';
}

export function manifestPath(file: string): string {
  return `${file}.json`;
}

const KEFU_VERSION = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

/**
 * Takes a consistent backup of a running kefu into FILE (written as FILE.partial, renamed when complete and checked)
 * and writes FILE.json. SQLite: the online backup API on a worker thread; PostgreSQL: pg_dump of an exported snapshot,
 * so the manifest's counts describe exactly what was dumped. Every message committed before the call is in the copy.
 */
export async function createBackup(target: BackupTarget, file: string, opts: { onProgress?: (p: BackupProgress) => void } = {}): Promise<BackupManifest> {
  file = path.resolve(file);
  if (fs.existsSync(file)) throw new BackupError(`${file} already exists; choose a new file name`);
  if (!fs.existsSync(path.dirname(file))) throw new BackupError(`folder ${path.dirname(file)} does not exist`);
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  try {
    const taken =
      dialectOfTarget(target) === 'sqlite'
        ? await backupSqlite(sqliteFile(target.dataDir), partial, opts.onProgress)
        : await backupPostgres(target, partial, opts.onProgress);
    fsyncFile(partial);
    const { size, sha256 } = await digest(partial);
    const manifest: BackupManifest = {
      format: 'kefu-backup',
      formatVersion: 1,
      dialect: dialectOfTarget(target),
      kefuVersion: KEFU_VERSION,
      schemaVersion: taken.schemaVersion,
      createdAt: new Date(taken.startedAt).toISOString(),
      file: path.basename(file),
      size,
      sha256,
      counts: taken.counts,
    };
    fs.renameSync(partial, file);
    writeFileAtomic(manifestPath(file), JSON.stringify(manifest, null, 2) + '\n');
    fsyncDir(path.dirname(file));
    return manifest;
  } finally {
    fs.rmSync(partial, { force: true });
  }
}

interface Taken {
  startedAt: number;
  schemaVersion: string | null;
  counts: BackupManifest['counts'];
}

async function backupSqlite(source: string, dest: string, onProgress?: (p: BackupProgress) => void): Promise<Taken> {
  if (!fs.existsSync(source)) throw new BackupError(`no database at ${source}`);
  const startedAt = Date.now();
  const worker = new Worker(new URL('./sqlite-backup-worker.mjs', import.meta.url), {
    workerData: { driver: createRequire(import.meta.url).resolve('better-sqlite3'), source, dest },
  });
  const done = await new Promise<{ check: string; counts: Taken['counts']; schemaVersion: string | null }>((resolve, reject) => {
    worker.on('message', (m: { type: string; totalPages?: number; remainingPages?: number; check?: string; counts?: Taken['counts']; schemaVersion?: string | null }) => {
      if (m.type === 'progress' && m.totalPages) onProgress?.({ fraction: 1 - m.remainingPages! / m.totalPages });
      if (m.type === 'done') resolve({ check: m.check!, counts: m.counts!, schemaVersion: m.schemaVersion ?? null });
    });
    worker.once('error', (e) => reject(new BackupError(`SQLite backup failed: ${e.message}`)));
    worker.once('exit', (code) => reject(new BackupError(`SQLite backup worker stopped (exit ${code})`)));
  });
  await worker.terminate();
  if (done.check !== 'ok') throw new BackupError(`the copy failed SQLite's consistency check: ${done.check}`);
  onProgress?.({ fraction: 1 });
  return { startedAt, schemaVersion: done.schemaVersion, counts: done.counts };
}

async function backupPostgres(target: BackupTarget, dest: string, onProgress?: (p: BackupProgress) => void): Promise<Taken> {
  const conn = connectionFor(target.databaseUrl!);
  const client = new pg.Client({ connectionString: target.databaseUrl });
  await client.connect();
  try {
    // the snapshot stays valid while this transaction is open; pg_dump reads exactly it
    await client.query('begin isolation level repeatable read read only');
    const startedAt = Date.now();
    const snapshot = (await client.query<{ s: string }>('select pg_export_snapshot() as s')).rows[0]!.s;
    const one = async (q: string) => Number((await client.query<{ n: string }>(q)).rows[0]?.n ?? 0);
    const counts = {
      conversations: await one('select count(*) as n from conversation'),
      messages: await one('select count(*) as n from message'),
      auditEvents: await one('select count(*) as n from audit_event'),
    };
    const schemaVersion = (await client.query<{ name: string }>('select name from kefu_migration order by name desc limit 1')).rows[0]?.name ?? null;
    const tables = await one(`select count(*) as n from pg_tables where schemaname = 'public'`);
    let dumped = 0;
    await run(pgTool('pg_dump', target.pgBinDir), ['--format=custom', '--verbose', `--snapshot=${snapshot}`, `--file=${dest}`, `--dbname=${conn.url}`], conn.env, (line) => {
      const m = /dumping contents of table "?([^"\s]+)"?/.exec(line);
      if (m) onProgress?.({ fraction: Math.min(1, ++dumped / Math.max(1, tables)), note: m[1] });
    });
    await client.query('commit');
    onProgress?.({ fraction: 1 });
    return { startedAt, schemaVersion, counts };
  } finally {
    await client.end();
  }
}

// ---- restore ----

export interface RestoreOptions {
  /** restore even though a server seems to be using the database */
  force?: boolean;
  onProgress?: (p: BackupProgress) => void;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** SQLite: where the database that was replaced was moved (with its -wal and -shm files) */
  movedAside?: string;
}

/** Reads FILE.json and checks that FILE is exactly what it describes. FILE may also be given as the manifest's path. */
export async function checkBackup(file: string): Promise<{ file: string; manifest: BackupManifest }> {
  file = path.resolve(file.endsWith('.json') && fs.existsSync(file.slice(0, -5)) ? file.slice(0, -5) : file);
  if (!fs.existsSync(file)) throw new BackupError(`${file} does not exist`);
  const mf = manifestPath(file);
  if (!fs.existsSync(mf)) throw new BackupError(`${mf} (the backup's manifest) does not exist; kefu restores only backups made by kefu backup`);
  let manifest: BackupManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(fs.readFileSync(mf, 'utf8')));
  } catch (err) {
    throw new BackupError(`${mf} is not a kefu backup manifest: ${(err as Error).message.split('\n')[0]}`);
  }
  const { size, sha256 } = await digest(file);
  if (size !== manifest.size || sha256 !== manifest.sha256) {
    throw new BackupError(`${file} does not match its manifest (size ${size}, expected ${manifest.size}; sha256 ${sha256.slice(0, 16)}…, expected ${manifest.sha256.slice(0, 16)}…): the file is corrupted or was altered`);
  }
  return { file, manifest };
}

/**
 * Replaces the database with a backup. Offline: refuses while a server uses the database unless forced. SQLite: the
 * current file and its -wal/-shm and message log move aside (nothing is deleted) and the checked copy takes their place. PostgreSQL:
 * kefu's tables and functions are dropped and the archive restored, all in one transaction. The caller then opens the
 * store (which migrates an older backup forward) and verifies the chains.
 */
export async function restoreBackup(target: BackupTarget, backupFile: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const { file, manifest } = await checkBackup(backupFile);
  const dialect = dialectOfTarget(target);
  if (manifest.dialect !== dialect) {
    throw new BackupError(`this is a ${manifest.dialect} backup but kefu is configured for ${dialect}${dialect === 'postgres' ? ' (KEFU_DATABASE_URL is set)' : ' (KEFU_DATABASE_URL is not set)'}`);
  }
  if (dialect === 'sqlite') {
    const running = dataDirInUse(target.dataDir);
    if (running && !opts.force) throw new BackupError(`a kefu server (${running}) is using ${target.dataDir}; stop it first, or use --force if that process is not kefu`);
    return { manifest, movedAside: restoreSqlite(target.dataDir, file, opts.onProgress) };
  }
  const db = await inspectDatabase(target.databaseUrl!);
  if (db.otherSessions > 0 && !opts.force) throw new BackupError(`${db.otherSessions} other session(s) are connected to the database (kefu servers?); stop them first, or use --force`);
  // restore replaces everything in schema public: make sure KEFU_DATABASE_URL does not point at someone else's database
  if (db.tables > 0 && !db.isKefu && !opts.force) throw new BackupError(`the database holds ${db.tables} tables but none of kefu's; restore would drop them all. Check KEFU_DATABASE_URL, or use --force`);
  await restorePostgres(target, file, opts.onProgress);
  return { manifest };
}

function restoreSqlite(dataDir: string, file: string, onProgress?: (p: BackupProgress) => void): string | undefined {
  fs.mkdirSync(dataDir, { recursive: true });
  const live = sqliteFile(dataDir);
  const incoming = `${live}.restoring`;
  fs.copyFileSync(file, incoming);
  fsyncFile(incoming);
  onProgress?.({ fraction: 0.5, note: 'checking the copy' });
  const check = new SqliteDatabase(incoming, { fileMustExist: true });
  try {
    const result = check.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new BackupError(`the backup failed SQLite's consistency check: ${String(result)}`);
  } catch (err) {
    check.close();
    fs.rmSync(incoming, { force: true });
    throw err;
  }
  check.close();
  let movedAside: string | undefined;
  if (fs.existsSync(live)) {
    movedAside = `${live}.before-restore-${stamp(new Date())}`;
    // the WAL and the message log (conversations/message-log.ts) hold changes of the old database: they move with
    // it, never stay next to the new one (the next start would apply the log to it)
    for (const suffix of ['', '-wal', '-shm', '-msglog']) if (fs.existsSync(live + suffix)) fs.renameSync(live + suffix, movedAside + suffix);
  } else {
    for (const suffix of ['-wal', '-shm', '-msglog']) fs.rmSync(live + suffix, { force: true, recursive: true });
  }
  fs.renameSync(incoming, live);
  fsyncDir(dataDir);
  onProgress?.({ fraction: 1 });
  return movedAside;
}

/** Who else is connected to the database (a running kefu server holds at least one session), and what it holds. */
async function inspectDatabase(url: string): Promise<{ otherSessions: number; tables: number; isKefu: boolean }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // a client that has just disconnected (a server stopped a moment ago, the backup's own pg_dump) can still be listed
    // for a little while: look again for up to 3 s before calling it connected
    const countOthers = () => client.query<{ n: string }>('select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    let sessions = await countOthers();
    for (let waited = 0; Number(sessions.rows[0]!.n) > 0 && waited < 3000; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
      sessions = await countOthers();
    }
    const tables = await client.query<{ n: string; kefu: string }>(`select count(*) as n, count(*) filter (where tablename = 'kefu_migration') as kefu from pg_tables where schemaname = 'public'`);
    return { otherSessions: Number(sessions.rows[0]!.n), tables: Number(tables.rows[0]!.n), isKefu: Number(tables.rows[0]!.kefu) > 0 };
  } finally {
    await client.end();
  }
}

// Drops everything kefu's database holds in schema public (tables with their indexes, triggers and sequences;
// functions), leaving extensions' objects alone, so the restored database has exactly the backup's objects — also
// when the database was migrated further than the backup. kefu's database must be its own (docs/OPERATIONS.md).
const DROP_KEFU_OBJECTS = `
do $$
declare r record;
begin
  for r in select c.oid::regclass as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'public' and c.relkind in ('r', 'p')
             and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e') loop
    execute format('drop table if exists %s cascade', r.t);
  end loop;
  for r in select p.oid::regprocedure as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = 'public'
             and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e') loop
    execute format('drop function if exists %s cascade', r.f);
  end loop;
end $$;`;

async function restorePostgres(target: BackupTarget, file: string, onProgress?: (p: BackupProgress) => void): Promise<void> {
  const conn = connectionFor(target.databaseUrl!);
  onProgress?.({ fraction: 0, note: 'restoring' });
  // pg_restore turns the archive into SQL; psql runs the drop and all of it in one transaction. psql's input is closed
  // only when pg_restore succeeded — otherwise psql is killed, and the server rolls the transaction back.
  const restore = spawn(pgTool('pg_restore', target.pgBinDir), ['--no-owner', '--no-acl', '--file=-', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const psql = spawn(pgTool('psql', target.pgBinDir), ['-X', '-q', '--single-transaction', '-v', 'ON_ERROR_STOP=1', '-c', DROP_KEFU_OBJECTS, '-f', '-', `--dbname=${conn.url}`], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: { ...process.env, ...conn.env },
  });
  restore.stdout.pipe(psql.stdin, { end: false });
  psql.stdin.on('error', () => {}); // psql stopped early: its exit code reports why
  const restoreErr = collect(restore.stderr);
  const psqlErr = collect(psql.stderr);
  const psqlExit = exitOf(psql);
  const restoreCode = await exitOf(restore);
  if (restoreCode !== 0) {
    psql.kill('SIGKILL');
    await psqlExit;
    throw new BackupError(`pg_restore failed (exit ${restoreCode}); the database was not changed: ${restoreErr().trim()}`);
  }
  psql.stdin.end();
  const psqlCode = await psqlExit;
  if (psqlCode !== 0) throw new BackupError(`restoring into the database failed (psql exit ${psqlCode}); the database was not changed: ${psqlErr().trim()}`);
  onProgress?.({ fraction: 1 });
}

// ---- the data folder in use by a server ----

const PID_FILE = 'kefu.pid';

/**
 * Marks a data folder as used by this process (kefu serve); returns the function that unmarks it. restore checks the
 * mark: the pid file names a process, and that process must still be alive on this host.
 */
export function markDataDirInUse(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, PID_FILE);
  const mine = JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() });
  fs.writeFileSync(file, mine + '\n');
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === mine) fs.rmSync(file);
    } catch {
      // already gone
    }
  };
}

/** A description of the live server process using dataDir, or undefined when none is (a stale pid file is ignored). */
export function dataDirInUse(dataDir: string): string | undefined {
  const file = path.join(dataDir, PID_FILE);
  let mark: { pid?: number; host?: string };
  try {
    mark = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof mark.pid !== 'number') return undefined;
  // another host sharing the folder: its processes cannot be checked from here, so it counts as running
  if (mark.host && mark.host !== os.hostname()) return `pid ${mark.pid} on ${mark.host}`;
  try {
    process.kill(mark.pid, 0);
    return `pid ${mark.pid}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? `pid ${mark.pid}` : undefined;
  }
}

// ---- scheduled backups ----

const SCHEDULED = /^kefu-(\d{8}T\d{6}Z)\.(sqlite|dump)$/;

/** The scheduled backups in dir, oldest first (only files kefu named and that have a manifest). */
export function listScheduledBackups(dir: string): Array<{ file: string; takenAt: number }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => SCHEDULED.test(f) && fs.existsSync(path.join(dir, manifestPath(f))))
    .sort()
    .map((f) => {
      const s = SCHEDULED.exec(f)![1]!;
      return { file: path.join(dir, f), takenAt: Date.parse(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`) };
    });
}

/** Takes a backup into dir under a time-stamped name, then deletes the oldest scheduled backups beyond keep. */
export async function scheduledBackup(target: BackupTarget, dir: string, keep: number): Promise<{ file: string; manifest: BackupManifest; removed: string[] }> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `kefu-${stamp(new Date())}.${dialectOfTarget(target) === 'sqlite' ? 'sqlite' : 'dump'}`);
  const manifest = await createBackup(target, file);
  const all = listScheduledBackups(dir);
  const removed: string[] = [];
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    fs.rmSync(manifestPath(old.file), { force: true });
    fs.rmSync(old.file, { force: true });
    removed.push(old.file);
  }
  return { file, manifest, removed };
}

// ---- helpers ----

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, text);
  fsyncFile(tmp);
  fs.renameSync(tmp, file);
}

/** The connection URL without its password (which goes to PGPASSWORD, so it is not visible in the process list). */
function connectionFor(databaseUrl: string): { url: string; env: Record<string, string> } {
  const u = new URL(databaseUrl);
  const env: Record<string, string> = {};
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
  }
  return { url: u.toString(), env };
}

/** A PostgreSQL client program: from pgBinDir, else from PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
export function pgTool(name: 'pg_dump' | 'pg_restore' | 'psql', pgBinDir?: string): string {
  if (pgBinDir) {
    const p = path.join(pgBinDir, name);
    if (!fs.existsSync(p)) throw new BackupError(`${p} does not exist (KEFU_PG_BIN_DIR)`);
    return p;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  const base = '/usr/lib/postgresql';
  if (fs.existsSync(base)) {
    const versions = fs.readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (fs.existsSync(path.join(base, v, 'bin', name))) return path.join(base, v, 'bin', name);
  }
  throw new BackupError(`${name} not found: install the PostgreSQL client tools (same or newer major version as the server) or set KEFU_PG_BIN_DIR`);
}

function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => {
    // keep the tail: that is where the error is
    text = (text + d.toString('utf8')).slice(-8000);
  });
  return () => text;
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function run(cmd: string, args: string[], env: Record<string, string>, onLine: (line: string) => void): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let errors = '';
  let pending = '';
  child.stderr!.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      onLine(line);
      if (!/^pg_dump: (dumping|reading|identifying|finding|flagging|saving|last built-in|processing|creating)/.test(line)) errors = (errors + line + '\n').slice(-8000);
    }
  });
  const code = await exitOf(child);
  if (code !== 0) throw new BackupError(`${path.basename(cmd)} failed (exit ${code}): ${(errors + pending).trim()}`);
}
