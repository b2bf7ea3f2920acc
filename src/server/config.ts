import path from 'node:path';
import { z } from 'zod';
import { MATCH_WORK_LIMIT } from '../archive/index.ts';

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  KEFU_DATA_DIR: z.string().min(1).default('./data'),
  KEFU_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// connection string')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  KEFU_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  KEFU_SECURE_COOKIES: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  KEFU_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600000).default(10000),
  KEFU_BACKUP_DIR: z.string().optional().transform((v) => (v ? v : undefined)),
  KEFU_BACKUP_INTERVAL_HOURS: z.coerce.number().positive().max(24 * 365).default(24),
  KEFU_BACKUP_KEEP: z.coerce.number().int().min(1).max(10000).default(7),
  KEFU_RETENTION_PURGE_AT: z
    .string()
    .regex(/^(off|([01]\d|2[0-3]):[0-5]\d)$/, 'must be a local time HH:MM (e.g. 03:30) or off')
    .default('03:30'),
  KEFU_CHECKPOINT_AT: z
    .string()
    .regex(/^(off|([01]\d|2[0-3]):[0-5]\d)$/, 'must be a local time HH:MM (e.g. 03:00) or off')
    .default('03:00'),
  KEFU_PG_BIN_DIR: z.string().optional().transform((v) => (v ? v : undefined)),
  KEFU_SECRET_KEY: z
    .string()
    .min(32, 'must have at least 32 characters, e.g. the output of `openssl rand -base64 32`')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  KEFU_SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(720).default(30),
  KEFU_SESSION_CHECK_SECONDS: z.coerce.number().min(0.05).max(300).default(5),
  KEFU_SEARCH_MATCH_LIMIT: z.coerce.number().int().min(10).max(10_000_000).default(MATCH_WORK_LIMIT),
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  logLevel: z.infer<typeof envSchema>['KEFU_LOG_LEVEL'];
  secureCookies: boolean;
  shutdownTimeoutMs: number;
  /** scheduled backups go here (kefu serve); none when absent */
  backupDir?: string;
  backupIntervalHours: number;
  /** scheduled backups kept in backupDir; older ones are deleted */
  backupKeep: number;
  /** local time of the daily retention purge, null when off */
  retentionPurgeAt: string | null;
  /** local time of the daily checkpoint (chain heads pinned under a Merkle root), null when off */
  checkpointAt: string | null;
  /** folder of pg_dump, pg_restore and psql */
  pgBinDir?: string;
  /** encrypts TOTP secrets at rest; without it they are stored as they are */
  secretKey?: string;
  sessionIdleMinutes: number;
  /** how often open console sockets have their sessions checked again, for revocations made by another process */
  sessionCheckSeconds: number;
  /** matches one search request tests against the viewer's scope and filters (archive/search.ts, MATCH_WORK_LIMIT) */
  searchMatchLimit: number;
}

export class ConfigError extends Error {}

/** Reads and validates configuration from the environment; a bad value names the variable and what it must be. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.KEFU_DATA_DIR),
    databaseUrl: e.KEFU_DATABASE_URL,
    logLevel: e.KEFU_LOG_LEVEL,
    secureCookies: e.KEFU_SECURE_COOKIES,
    shutdownTimeoutMs: e.KEFU_SHUTDOWN_TIMEOUT_MS,
    backupDir: e.KEFU_BACKUP_DIR ? path.resolve(e.KEFU_BACKUP_DIR) : undefined,
    backupIntervalHours: e.KEFU_BACKUP_INTERVAL_HOURS,
    backupKeep: e.KEFU_BACKUP_KEEP,
    retentionPurgeAt: e.KEFU_RETENTION_PURGE_AT === 'off' ? null : e.KEFU_RETENTION_PURGE_AT,
    checkpointAt: e.KEFU_CHECKPOINT_AT === 'off' ? null : e.KEFU_CHECKPOINT_AT,
    pgBinDir: e.KEFU_PG_BIN_DIR,
    secretKey: e.KEFU_SECRET_KEY,
    sessionIdleMinutes: e.KEFU_SESSION_IDLE_MINUTES,
    sessionCheckSeconds: e.KEFU_SESSION_CHECK_SECONDS,
    searchMatchLimit: e.KEFU_SEARCH_MATCH_LIMIT,
  };
}
