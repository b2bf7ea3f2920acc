import { ApiError } from './api.ts';
import { errorText } from './errors.ts';
import type { Translate } from './i18n.ts';

/** The refusals of sign-in, two-step verification and password changes in the console's own words. */
export function authErrorText(err: unknown, t: Translate): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'too_many_attempts':
        return t('error.locked', { minutes: Math.max(1, Math.ceil((err.retryAfterSeconds ?? 900) / 60)) });
      case 'bad_code':
        return t('error.badCode');
      case 'challenge_expired':
        return t('error.challengeExpired');
      case 'wrong_password':
        return t('error.wrongPassword');
      case 'weak_password':
        return t('error.weakPassword', { message: err.message });
      case 'two_factor_required':
        return t('error.twoFactorRequired');
      case 'two_factor_enrolment_required':
        return t('error.enrolmentRequired');
    }
  }
  return errorText(err, t);
}
