import path from 'node:path';
import { z } from 'zod';

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
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  logLevel: z.infer<typeof envSchema>['KEFU_LOG_LEVEL'];
  secureCookies: boolean;
  shutdownTimeoutMs: number;
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
  };
}
