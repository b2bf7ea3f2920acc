import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import { authenticator } from 'otplib';

/** RFC 6238 as every authenticator app does it: 30-second steps, 6 digits; one step either side allows for clock drift. */
export const TOTP_STEP_SECONDS = 30;
const totp = authenticator.clone({ step: TOTP_STEP_SECONDS, digits: 6, window: 1 });

export const TOTP_ISSUER = 'kefu';

/** A new shared secret, base32 as authenticator apps expect it (160 bits, the RFC 4226 recommendation). */
export function newTotpSecret(): string {
  return totp.generateSecret(20);
}

export function otpauthUri(login: string, secret: string): string {
  return totp.keyuri(login, TOTP_ISSUER, secret);
}

export function totpStep(now: number): number {
  return Math.floor(now / 1000 / TOTP_STEP_SECONDS);
}

/**
 * The time step a code belongs to when it is valid at `now` (within one step either way), otherwise null. Callers keep
 * the last accepted step and refuse a step that is not newer, so an observed code cannot be replayed.
 */
export function matchTotp(secret: string, code: string, now: number): number | null {
  const digits = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(digits)) return null;
  const delta = totp.clone({ epoch: now }).checkDelta(digits, secret);
  return delta === null ? null : totpStep(now) + delta;
}

// no 0/o, 1/l/i: recovery codes are copied by hand from paper
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export const RECOVERY_CODE_COUNT = 10;

/** Ten one-time codes like "k7h3m-x9q2p" (about 49 bits each). */
export function newRecoveryCodes(): string[] {
  const one = () => Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const c = one();
    return `${c.slice(0, 5)}-${c.slice(5)}`;
  });
}

/** Codes are compared ignoring case, spaces and dashes. With this much entropy a plain SHA-256 is enough. */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.toLowerCase().replace(/[\s-]+/g, '')).digest('hex');
}

/**
 * Keeps TOTP secrets unreadable in a database dump or backup: AES-256-GCM under a key derived from KEFU_SECRET_KEY.
 * Without a key, secrets are stored as they are (marked "plain.") and the server warns at start.
 */
export class SecretBox {
  private readonly key: Buffer | null;

  constructor(secretKey: string | undefined) {
    this.key = secretKey ? Buffer.from(hkdfSync('sha256', secretKey, 'kefu', 'totp-secret-v1', 32)) : null;
  }

  get encrypts(): boolean {
    return this.key !== null;
  }

  seal(plain: string): string {
    if (!this.key) return `plain.${plain}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(stored: string): string {
    if (stored.startsWith('plain.')) return stored.slice('plain.'.length);
    const [version, iv, tag, ct] = stored.split('.');
    if (version !== 'v1' || !iv || !tag || !ct) throw new Error('unreadable TOTP secret in the database');
    if (!this.key) throw new Error('TOTP secrets are encrypted but KEFU_SECRET_KEY is not set: start kefu with the key they were stored under');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('a TOTP secret does not decrypt with this KEFU_SECRET_KEY: start kefu with the key it was stored under');
    }
  }

  isPlain(stored: string): boolean {
    return stored.startsWith('plain.');
  }
}
