import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import { WalSync, startCheckpointer } from './wal-sync.ts';
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
  /**
   * For a long-running writer (the server): from now on the message writer's transactions (writeDeferred) commit without
   * an fsync on the event loop and report when they are durable; WAL checkpoints move to a worker thread. PostgreSQL
   * commits are durable when they return, so there it is a plain transaction.
   */
  enableDeferredSync(onError?: (message: string) => void): void;
  /** A transaction whose commit is durable when `durable` resolves (at once unless enableDeferredSync was called). */
  writeDeferred<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<{ result: T; durable: Promise<void> }>;
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
    return {
      db,
      dialect: 'postgres',
      enableDeferredSync() {},
      writeDeferred: async (fn) => ({ result: await db.transaction().execute(fn), durable: Promise.resolve() }),
      close: () => db.destroy(),
    };
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const file = sqliteFile(opts.dataDir);
  const sqlite = new SqliteDatabase(file);
  // WAL + synchronous=FULL: a commit is on disk before it returns, so an acknowledged message survives kill -9 and power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // 64 MB of page cache instead of 2 MB: every message touches several indexes (search key, conversation + client id,
  // sender, time) and the FTS segments, and a miss is a read() on the event loop
  sqlite.pragma('cache_size = -65536');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  await migrate(db);
  let deferred: { wal: WalSync; checkpointer: { stop(): Promise<void> } } | null = null;
  return {
    db,
    dialect: 'sqlite',
    sqlite,
    sqlitePath: file,
    enableDeferredSync(onError) {
      if (deferred) return;
      sqlite.pragma('wal_autocheckpoint = 0');
      deferred = { wal: new WalSync(`${file}-wal`), checkpointer: startCheckpointer(file, 1000, onError) };
    },
    async writeDeferred(fn) {
      if (!deferred) return { result: await db.transaction().execute(fn), durable: Promise.resolve() };
      const { wal } = deferred;
      // the connection is held from the pragma to the commit, so no other statement commits without its fsync
      const result = await db.connection().execute(async (conn) => {
        await sql`pragma synchronous = normal`.execute(conn);
        try {
          return await conn.transaction().execute(fn);
        } finally {
          await sql`pragma synchronous = full`.execute(conn);
        }
      });
      return { result, durable: wal.sync() };
    },
    async close() {
      // closing twice (a test's store handed to a server that closes it too) must not wait for a worker gone already
      const d = deferred;
      deferred = null;
      if (d) {
        await d.checkpointer.stop();
        d.wal.close();
      }
      await db.destroy();
    },
  };
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
