import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { openStore, sqliteFile, type DialectName, type Store } from '../../src/store/index.ts';
import { migrationProvider } from '../../src/store/migrations/index.ts';

/**
 * The dialects a test runs against. scripts/test.ts starts one PostgreSQL cluster for the whole run and passes its
 * URL in KEFU_TEST_PG_URL; without it (a single file run by hand) only SQLite is tested, and under CI that is an error.
 */
export function testDialects(): DialectName[] {
  if (process.env.KEFU_TEST_PG_URL) return ['sqlite', 'postgres'];
  if (process.env.CI === 'true') throw new Error('KEFU_TEST_PG_URL is not set: run the suite with `npm test`');
  process.stderr.write('note: KEFU_TEST_PG_URL not set, PostgreSQL variants skipped (run `npm test` for both dialects)\n');
  return ['sqlite'];
}

export function tempDir(prefix = 'kefu-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A fresh, empty database of the dialect: a new SQLite file, or a new database in the shared test cluster. */
export async function freshDatabase(dialect: DialectName): Promise<{ dataDir: string; databaseUrl?: string; drop(): Promise<void> }> {
  const dataDir = tempDir();
  if (dialect === 'sqlite') return { dataDir, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  const admin = process.env.KEFU_TEST_PG_URL!;
  const name = `kefu_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  return {
    dataDir,
    databaseUrl: url,
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      // pg's pool.end() resolves before its connections have closed; forcing the drop while one is still closing
      // makes that connection emit an error nobody listens to any more. Give them a moment to go first.
      for (let attempt = 0; attempt < 40; attempt++) {
        const open = await c.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
        if (open.rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function freshStore(dialect: DialectName): Promise<Store & { drop(): Promise<void> }> {
  const d = await freshDatabase(dialect);
  const store = await openStore({ dataDir: d.dataDir, databaseUrl: d.databaseUrl });
  return {
    ...store,
    async drop() {
      await store.close();
      await d.drop();
    },
  };
}

/**
 * A database as an older kefu left it: the schema migrated up to and including `migration`, on a plain Kysely
 * connection of the dialect (no store), for tests that write old-style rows and then let openStore migrate the rest.
 */
export async function databaseAt(d: { dataDir: string; databaseUrl?: string }, dialect: DialectName, migration: string): Promise<Kysely<any>> {
  const db =
    dialect === 'sqlite'
      ? new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(sqliteFile(d.dataDir)) }) })
      : new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: d.databaseUrl }) }) });
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'kefu_migration', migrationLockTableName: 'kefu_migration_lock', allowUnorderedMigrations: true });
  const { error } = await migrator.migrateTo(migration);
  if (error) throw error;
  return db;
}
