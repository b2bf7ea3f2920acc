import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { LeasedSqliteDialect, type WriteLease } from './write-lease.ts';
import { startCheckpointer } from './checkpointer.ts';
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
   * For a long-running server: WAL checkpoints (copying the log into the database file and syncing it) move from the
   * committing connection to a worker thread, so no commit on the event loop pays for one. No-op on PostgreSQL.
   */
  checkpointInBackground(onError?: (message: string) => void): void;
  /**
   * A writer thread now shares the SQLite file: from here on every write of this connection first takes a turn from
   * `lease` (write-lease.ts), so it neither starves behind the thread nor sleeps on the event loop. No-op on PostgreSQL.
   */
  shareWriteLock(lease: WriteLease): void;
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
      checkpointInBackground() {},
      shareWriteLock() {},
      close: () => db.destroy(),
    };
  }
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const file = sqliteFile(opts.dataDir);
  const sqlite = new SqliteDatabase(file);
  // WAL: readers never wait for the writer, and a commit appends to the log instead of rewriting pages (persistent)
  sqlite.pragma('journal_mode = WAL');
  let lease: WriteLease | null = null;
  const db = sqliteKysely(sqlite, () => lease);
  await migrate(db);
  let checkpointer: { stop(): Promise<void> } | null = null;
  return {
    db,
    dialect: 'sqlite',
    sqlite,
    sqlitePath: file,
    checkpointInBackground(onError) {
      if (checkpointer) return;
      sqlite.pragma('wal_autocheckpoint = 0');
      checkpointer = startCheckpointer(file, 1000, onError, () => lease?.finishCheckpoint?.());
    },
    shareWriteLock(l) {
      lease = l;
    },
    async close() {
      // closing twice (a test's store handed to a server that closes it too) must not wait for a worker gone already
      const c = checkpointer;
      checkpointer = null;
      await c?.stop();
      await db.destroy();
    },
  };
}

/**
 * A second connection to an existing kefu SQLite file, for a thread that writes (the message writer thread): the same
 * settings as the server's own, and no checkpoints of its own (the checkpoint worker does them). With `readOnly` it
 * refuses every write. With
 * `syncOnCommit: false` a commit reaches the OS but not the disk (synchronous=NORMAL): the caller makes it durable
 * with WalSync before it reports the commit.
 */
export function openSqliteConnection(file: string, opts: { syncOnCommit?: boolean; readOnly?: boolean } = {}): Kysely<Database> {
  const sqlite = new SqliteDatabase(file, { fileMustExist: true });
  sqlite.pragma('wal_autocheckpoint = 0');
  // a reader that must never write (the message log thread): SQLite refuses any write on it
  if (opts.readOnly) sqlite.pragma('query_only = 1');
  const db = sqliteKysely(sqlite, () => null);
  if (opts.syncOnCommit === false) sqlite.pragma('synchronous = NORMAL');
  // the writer's multi-row inserts open a statement journal each; as files (the default) that was a create, writes and
  // an unlink in /var/tmp dozens of times a second and a third of the bytes the writer wrote (docs/BENCHMARKS.md).
  // Its statements are small, so memory is safe here; the server's connection keeps files for large sorts
  sqlite.pragma('temp_store = MEMORY');
  return db;
}

function sqliteKysely(sqlite: SqliteDatabase.Database, lease: () => WriteLease | null): Kysely<Database> {
  // first: another connection (the writer thread, a CLI command) may hold the write lock for a moment
  sqlite.pragma('busy_timeout = 5000');
  // in WAL mode with synchronous=FULL a commit is on disk before it returns: an acknowledged message survives kill -9 and power loss
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // the connection that starts the WAL again from its beginning truncates it to this size (space back after a burst)
  sqlite.pragma('journal_size_limit = 67108864');
  // 64 MB of page cache instead of 2 MB: every message touches several indexes (search key, conversation + client id,
  // sender) and the FTS segments, and a miss is a read()
  sqlite.pragma('cache_size = -65536');
  return new Kysely<Database>({ dialect: new LeasedSqliteDialect({ database: withStatementCache(sqlite) }, lease) });
}

/**
 * Kysely prepares every statement afresh; better-sqlite3's prepare costs more than running a small statement (16% of
 * an import's CPU, docs/BENCHMARKS.md), so the compiled statements of the last few hundred SQL texts are kept. A
 * cached statement that is still being iterated (a streamed query) is not handed out twice: that call gets its own.
 * Every transaction begins IMMEDIATE (below).
 */
function withStatementCache(sqlite: SqliteDatabase.Database, size = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      // A transaction takes the write lock when it begins, not at its first write: with deferred begins, a transaction
      // that reads and then writes fails at once (SQLITE_BUSY, no wait) when another connection committed in between.
      if (text === 'begin') text = 'begin immediate';
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
