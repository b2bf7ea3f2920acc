import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { migrationProvider } from './migrations/index.ts';
import { type DialectName } from './dialect/index.ts';

// PostgreSQL returns int8 as strings by default; our bigints are epoch milliseconds and fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export interface StoreOptions {
  /** postgres://… connection string; when absent the embedded SQLite file is used. */
  databaseUrl?: string;
  /** folder for the SQLite file (created if missing). */
  dataDir: string;
  poolSize?: number;
}

export interface Store {
  db: Kysely<Database>;
  dialect: DialectName;
  /** the raw better-sqlite3 handle in embedded mode (online backup, pragmas) */
  sqlite?: SqliteDatabase.Database;
  sqlitePath?: string;
  close(): Promise<void>;
}

export function sqliteFile(dataDir: string): string {
  return path.join(dataDir, 'kefu.sqlite');
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await migrate(db);
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const file = sqliteFile(opts.dataDir);
  const sqlite = new SqliteDatabase(file);
  // WAL + synchronous=FULL: a commit is on disk before it returns, so an acknowledged message survives kill -9 and power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  await migrate(db);
  return { db, dialect: 'sqlite', sqlite, sqlitePath: file, close: () => db.destroy() };
}

/**
 * Kysely prepares every statement afresh; better-sqlite3's prepare costs more than running a small statement (16% of
 * an import's CPU, docs/BENCHMARKS.md), so the compiled statements of the last few hundred SQL texts are kept. A
 * cached statement that is still being iterated (a streamed query) is not handed out twice: that call gets its own.
 */
function withStatementCache(sqlite: SqliteDatabase.Database, size = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt) {
        if (stmt.busy) return sqlite.prepare(text);
        // most recently used last
        cache.delete(text);
      } else {
        stmt = sqlite.prepare(text);
        if (cache.size >= size) cache.delete(cache.keys().next().value!);
      }
      cache.set(text, stmt);
      return stmt;
    },
  };
}

export async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'kefu_migration', migrationLockTableName: 'kefu_migration_lock', allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
