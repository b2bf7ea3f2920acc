import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticator } from 'otplib';
import { freshStore } from '../../test/support/databases.ts';
import { SecretBox, hashRecoveryCode, matchTotp, newTotpSecret, totpStep } from './totp.ts';
import { createUser } from './users.ts';
import { beginEnrolment, confirmEnrolment, checkTotpCode, sealStoredSecrets } from './two-factor.ts';

const KEY = 'k'.repeat(16) + 'another-32-character-secret';

test('codes are accepted one 30-second step either side of now, not two', () => {
  const secret = newTotpSecret();
  const now = Date.parse('2025-03-01T08:00:10Z');
  const at = (offsetS: number) => authenticator.clone({ epoch: now + offsetS * 1000 }).generate(secret);
  assert.equal(matchTotp(secret, at(0), now), totpStep(now));
  assert.equal(matchTotp(secret, at(-30), now), totpStep(now) - 1);
  assert.equal(matchTotp(secret, at(30), now), totpStep(now) + 1);
  assert.equal(matchTotp(secret, at(-60), now), null);
  assert.equal(matchTotp(secret, at(60), now), null);
  assert.equal(matchTotp(secret, ` ${at(0).slice(0, 3)} ${at(0).slice(3)} `, now), totpStep(now), 'spaces are ignored');
  assert.equal(matchTotp(secret, 'abcdef', now), null);
});

test('with a key, secrets are sealed with AES-256-GCM and open only with that key; without one they are marked plain', () => {
  const secret = newTotpSecret();
  const box = new SecretBox(KEY);
  const sealed = box.seal(secret);
  assert.match(sealed, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(!sealed.includes(secret));
  assert.notEqual(box.seal(secret), sealed, 'a fresh IV each time');
  assert.equal(box.open(sealed), secret);
  assert.throws(() => new SecretBox('z'.repeat(40)).open(sealed), /does not decrypt with this KEFU_SECRET_KEY/);
  assert.throws(() => new SecretBox(undefined).open(sealed), /KEFU_SECRET_KEY is not set/);
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => box.open(tampered), /does not decrypt/);
  const plain = new SecretBox(undefined);
  assert.equal(plain.seal(secret), `plain.${secret}`);
  assert.equal(box.open(`plain.${secret}`), secret, 'a key still reads secrets stored before it was set');
});

test('recovery codes compare without case, spaces or dashes', () => {
  assert.equal(hashRecoveryCode('k7h3m-x9q2p'), hashRecoveryCode(' K7H3M X9Q2P'));
  assert.notEqual(hashRecoveryCode('k7h3m-x9q2p'), hashRecoveryCode('k7h3m-x9q2q'));
});

test('setting KEFU_SECRET_KEY later encrypts the secrets stored before; sign-in keeps working', async () => {
  const store = await freshStore('sqlite');
  try {
    const user = await createUser(store.db, { login: 'zhao.audit', password: 'pine-needle-3344', role: 'auditor' });
    const plain = new SecretBox(undefined);
    const { secret } = await beginEnrolment(store.db, plain, user);
    const now = Date.now();
    await confirmEnrolment(store.db, plain, user.id, authenticator.clone({ epoch: now }).generate(secret), now);
    const before = await store.db.selectFrom('user_totp').select('secret').executeTakeFirstOrThrow();
    assert.equal(before.secret, `plain.${secret}`);

    const box = new SecretBox(KEY);
    assert.deepEqual(await sealStoredSecrets(store.db, box), { sealed: 1, unreadable: 0, plain: 1 });
    const after = await store.db.selectFrom('user_totp').select('secret').executeTakeFirstOrThrow();
    assert.match(after.secret!, /^v1\./);
    assert.deepEqual(await sealStoredSecrets(store.db, new SecretBox('w'.repeat(40))), { sealed: 0, unreadable: 1, plain: 0 }, 'another key is reported');
    const later = now + 30_000;
    assert.equal(await checkTotpCode(store.db, box, user.id, authenticator.clone({ epoch: later }).generate(secret), later), true);
  } finally {
    await store.drop();
  }
});
