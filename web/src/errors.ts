import { ApiError } from './api.ts';
import type { Translate } from './i18n.ts';

/** What the agent reads when something fails: our own words for the cases we know, the server's message otherwise. */
export function errorText(err: unknown, t: Translate): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return t('error.network');
    if (err.code === 'bad_credentials') return t('error.badCredentials');
    if (err.status === 401) return t('error.sessionExpired');
    return t('error.server', { message: err.message });
  }
  if (err instanceof Error && err.message === 'operation has timed out') return t('error.timeout');
  return t('error.server', { message: err instanceof Error ? err.message : String(err) });
}
