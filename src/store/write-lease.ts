import { SqliteDialect, type CompiledQuery, type DatabaseConnection, type Driver, type QueryCompiler, type QueryResult, type TransactionSettings } from 'kysely';

/**
 * Turn-taking for SQLite's one write lock between the server's connection and a writer thread that commits back to
 * back (the message writer). SQLite's busy handler only sleeps and retries, so a connection that wants the lock while
 * another takes it again the moment it lets go can starve until its busy timeout, and every sleep of it would block
 * the event loop. Instead, before each write the server's connection asks for a lease: the writer thread grants it
 * between two of its transactions and waits until the lease is released. The lock itself stays SQLite's: a lease
 * only decides whose turn it is, so a write that happens without one is still safe, only slower.
 */
export interface WriteLease {
  /** resolves when the caller may take the write lock without waiting for the writer thread */
  acquire(): Promise<void>;
  /** hands the turn back; called once for each acquire() */
  release(): void;
  /**
   * The checkpoint thread has copied the log up to a moment ago: the writer copies the rest between two of its
   * commits, when nothing else writes, so the log is complete and its next commit starts it again (checkpointer.ts).
   */
  finishCheckpoint?(): void;
}

/** writes that take SQLite's write lock, apart from those Kysely builds as insert/update/delete (raw SQL, DDL) */
const RAW_WRITE = /^\s*(insert|update|delete|replace|create|drop|alter|reindex|vacuum)\b/i;

function takesWriteLock(q: CompiledQuery): boolean {
  const kind = q.query.kind;
  if (kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode') return true;
  return kind === 'RawNode' && RAW_WRITE.test(q.sql);
}

/**
 * Kysely's SQLite dialect with a lease around every transaction and every write outside one. The lease is looked up
 * at each write (`lease()`), so it can be shared after the store is open; without one this is Kysely's own driver.
 */
export class LeasedSqliteDialect extends SqliteDialect {
  constructor(
    config: ConstructorParameters<typeof SqliteDialect>[0],
    private readonly lease: () => WriteLease | null,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new LeasedDriver(super.createDriver(), this.lease);
  }
}

class LeasedConnection implements DatabaseConnection {
  /** the lease held for the open transaction, if any */
  held: WriteLease | null = null;
  inTransaction = false;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly lease: () => WriteLease | null,
  ) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    const lease = this.inTransaction ? null : this.lease();
    if (!lease || !takesWriteLock(q)) return this.inner.executeQuery<R>(q);
    await lease.acquire();
    try {
      return await this.inner.executeQuery<R>(q);
    } finally {
      lease.release();
    }
  }

  streamQuery<R>(q: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(q, chunkSize);
  }
}

class LeasedDriver implements Driver {
  private readonly wrapped = new WeakMap<DatabaseConnection, LeasedConnection>();
  constructor(
    private readonly inner: Driver,
    private readonly lease: () => WriteLease | null,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const c = await this.inner.acquireConnection();
    let w = this.wrapped.get(c);
    if (!w) this.wrapped.set(c, (w = new LeasedConnection(c, this.lease)));
    return w;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as LeasedConnection;
    const lease = this.lease();
    if (lease) await lease.acquire();
    try {
      await this.inner.beginTransaction(c.inner, settings);
    } catch (err) {
      lease?.release();
      throw err;
    }
    c.held = lease;
    c.inTransaction = true;
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.endTransaction(connection as LeasedConnection, (inner) => this.inner.commitTransaction(inner));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.endTransaction(connection as LeasedConnection, (inner) => this.inner.rollbackTransaction(inner));
  }

  /** commit or rollback, then the turn goes back (once: a failed commit is followed by a rollback) */
  private async endTransaction(c: LeasedConnection, end: (inner: DatabaseConnection) => Promise<void>): Promise<void> {
    try {
      await end(c.inner);
    } finally {
      c.inTransaction = false;
      const held = c.held;
      c.held = null;
      held?.release();
    }
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return this.inner.savepoint!((connection as LeasedConnection).inner, name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return this.inner.rollbackToSavepoint!((connection as LeasedConnection).inner, name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return this.inner.releaseSavepoint!((connection as LeasedConnection).inner, name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection((connection as LeasedConnection).inner);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
