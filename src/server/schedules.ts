import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import { listScheduledBackups, markDataDirInUse, purgeExpired, recordCheckpoint, scheduledBackup, type AuditActor, type AuditLog, type Checkpoint } from '../governance/index.ts';
import type { Config } from './config.ts';

/** Jobs the server runs on its own are audited under this actor. */
export const SCHEDULER: AuditActor = { id: null, login: 'kefu-scheduler', role: 'system' };

/** setTimeout's longest delay; a later due time is reached in several hops */
const MAX_DELAY = 2 ** 31 - 1;

/** The next time (epoch ms) the local clock shows hh:mm, strictly after now. */
export function nextDailyRun(now: number, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const next = new Date(now);
  next.setHours(h, m, 0, 0);
  if (next.getTime() <= now) next.setDate(next.getDate() + 1);
  return next.getTime();
}

/**
 * Every node of a cluster runs the daily checkpoint at the same minute; the first one writes it, and the others find a
 * checkpoint younger than this and write none.
 */
export const CHECKPOINT_DEDUP_MS = 10 * 60_000;

/** One scheduled checkpoint: pins the chain heads, audits it as the scheduler, and logs the Merkle root to keep outside kefu. */
export async function scheduledCheckpoint(server: { store: Store; audit: AuditLog; log: Pick<Logger, 'info'> }): Promise<Checkpoint | null> {
  const c = await recordCheckpoint(server.store, server.audit, SCHEDULER, { scheduled: true, unlessWithinMs: CHECKPOINT_DEDUP_MS });
  if (c) server.log.info({ checkpoint: c.id, at: c.at, conversations: c.conversations, merkleRoot: c.merkleRoot, hash: c.hash }, 'checkpoint written');
  return c;
}

/**
 * The server's background duties: mark the data folder as in use (kefu restore refuses while it is), take scheduled
 * backups (KEFU_BACKUP_DIR every KEFU_BACKUP_INTERVAL_HOURS, keeping KEFU_BACKUP_KEEP), and run the retention purge daily
 * (KEFU_RETENTION_PURGE_AT), and take a checkpoint daily (KEFU_CHECKPOINT_AT). Jobs run one at a time; closing the server stops the timers, lets a backup in progress
 * finish, and stops a purge after its current batch.
 */
export function startSchedules(server: { app: FastifyInstance; store: Store; audit: AuditLog; log: Logger; settled?: () => Promise<void> }, config: Config): void {
  const { app, store, audit, log } = server;
  const unmark = store.dialect === 'sqlite' ? markDataDirInUse(config.dataDir) : () => {};
  const timers = new Set<NodeJS.Timeout>();
  const stopping = new AbortController();
  let chain: Promise<void> = Promise.resolve();

  const at = (due: number, job: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (stopping.signal.aborted) return;
      if (Date.now() < due) at(due, job);
      else job();
    }, Math.min(MAX_DELAY, Math.max(0, due - Date.now())));
    t.unref();
    timers.add(t);
  };
  const serially = (name: string, job: () => Promise<void>) => {
    chain = chain.then(async () => {
      if (stopping.signal.aborted) return;
      try {
        // backups, purges and checkpoints see every message acknowledged before they start
        await server.settled?.();
        await job();
      } catch (err) {
        log.error({ err, job: name }, `${name} failed`);
      }
    });
    return chain;
  };

  const backupDir = config.backupDir;
  if (backupDir) {
    const intervalMs = config.backupIntervalHours * 3_600_000;
    const target = { databaseUrl: config.databaseUrl, dataDir: config.dataDir, pgBinDir: config.pgBinDir };
    let lastAttempt = -Infinity;
    const planBackup = () => {
      const last = listScheduledBackups(backupDir).at(-1)?.takenAt ?? -Infinity;
      // An overdue (or first) backup runs a few seconds after start, not during start-up itself; after an attempt,
      // failed or not, the next one waits a whole interval.
      const due = Math.max(Date.now() + 2000, last + intervalMs, lastAttempt + intervalMs);
      at(due, () =>
        void serially('scheduled backup', async () => {
          const started = Date.now();
          lastAttempt = started;
          const { file, manifest, removed } = await scheduledBackup(target, backupDir, config.backupKeep);
          await audit.record({
            actor: SCHEDULER,
            action: 'backup.create',
            target: { type: 'backup', id: manifest.file },
            detail: { file, size: manifest.size, sha256: manifest.sha256, dialect: manifest.dialect, schemaVersion: manifest.schemaVersion, counts: manifest.counts, scheduled: true, removed },
          });
          log.info({ file, size: manifest.size, ms: Date.now() - started, removed: removed.length }, 'scheduled backup written');
        }).finally(() => {
          if (!stopping.signal.aborted) planBackup();
        }),
      );
    };
    planBackup();
  }

  const purgeAt = config.retentionPurgeAt;
  if (purgeAt) {
    const planPurge = () =>
      at(nextDailyRun(Date.now(), purgeAt), () =>
        void serially('retention purge', async () => {
          const r = await purgeExpired(store, { actor: SCHEDULER, signal: stopping.signal });
          if (r.conversations > 0 || r.held > 0) log.info({ conversations: r.conversations, messages: r.messages, held: r.held }, 'retention purge done');
        }).finally(() => {
          if (!stopping.signal.aborted) planPurge();
        }),
      );
    planPurge();
  }

  const checkpointAt = config.checkpointAt;
  if (checkpointAt) {
    const planCheckpoint = () =>
      at(nextDailyRun(Date.now(), checkpointAt), () =>
        void serially('scheduled checkpoint', async () => {
          await scheduledCheckpoint(server);
        }).finally(() => {
          if (!stopping.signal.aborted) planCheckpoint();
        }),
      );
    planCheckpoint();
  }

  app.addHook('onClose', async () => {
    stopping.abort();
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await chain;
    unmark();
  });
}
