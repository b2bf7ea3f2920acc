import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authenticator } from 'otplib';
import { WEB_DIST } from '../../src/server/app.ts';
import { buildAll } from '../../src/server/build.ts';
import { createUser, listAudit } from '../../src/governance/index.ts';
import { launchChromium, watchPageErrors } from '../support/browser.ts';
import { startTestServer } from '../support/server.ts';

const LOGIN = 'chen.admin';
const PASSWORD = 'saffron-bridge-2718';

test('an admin is led through two-step enrolment at first sign-in, then signs in with password and code', { timeout: 120_000 }, async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) await buildAll();
  const srv = await startTestServer();
  t.after(() => srv.close());
  const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-2fa-'));
  t.diagnostic(`screenshots in ${shots}`);
  await createUser(srv.server.store.db, { login: LOGIN, password: PASSWORD, role: 'admin', displayName: '陈管理' });

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const pageErrors = watchPageErrors(page);
  await page.goto(srv.url);
  let secret = '';

  await t.test('the first sign-in leads to enrolment instead of the console', async () => {
    await page.getByRole('heading', { name: '登录客服工作台' }).waitFor();
    await page.getByLabel('账号').fill(LOGIN);
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await page.getByRole('heading', { name: '设置两步验证' }).waitFor();
    await page.getByText('管理员账号必须使用两步验证').waitFor();
    await page.getByRole('img', { name: '两步验证二维码' }).waitFor();
    await page.screenshot({ path: path.join(shots, 'enrol.png'), fullPage: true });
    assert.equal(await page.getByRole('navigation').count(), 0, 'no console behind the enrolment page');
  });

  await t.test('a wrong code is refused; the code computed from the key on the page turns 2FA on', async () => {
    secret = ((await page.getByLabel('密钥').textContent()) ?? '').replace(/[^A-Z2-7]/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const right = authenticator.generate(secret);
    await page.getByLabel('验证码').fill(`${(Number(right[0]) + 5) % 10}${right.slice(1)}`);
    await page.getByRole('button', { name: '确认并开启' }).click();
    await page.getByRole('alert').filter({ hasText: '验证码错误' }).waitFor();
    await page.getByLabel('验证码').fill(right);
    await page.getByRole('button', { name: '确认并开启' }).click();
    const codes = page.getByRole('list', { name: '恢复码' }).getByRole('listitem');
    await codes.first().waitFor();
    assert.equal(await codes.count(), 10);
    await page.screenshot({ path: path.join(shots, 'recovery-codes.png'), fullPage: true });
    const done = page.getByRole('button', { name: '进入工作台' });
    assert.equal(await done.isDisabled(), true, 'continuing waits for the codes to be saved');
    await page.getByLabel('我已保存恢复码').check();
    await done.click();
    await page.getByRole('status').filter({ hasText: '已连接' }).waitFor();
  });

  await t.test('account security shows 2FA on and this session', async () => {
    await page.getByRole('button', { name: /陈管理/ }).click();
    await page.getByRole('menuitem', { name: '账号安全' }).click();
    const drawer = page.getByRole('dialog', { name: '账号安全' });
    await drawer.getByText('已开启').waitFor();
    await drawer.getByText('您的角色必须使用两步验证').waitFor();
    await drawer.getByText('当前设备').waitFor();
    await drawer.getByText('两步验证策略').waitFor();
    await drawer.getByRole('button', { name: /close|关闭/i }).click();
    await drawer.waitFor({ state: 'hidden' });
  });

  await t.test('after signing out, signing in takes the password and then a code', async () => {
    await page.getByRole('button', { name: /陈管理/ }).click();
    await page.getByRole('menuitem', { name: '退出登录' }).click();
    await page.getByRole('heading', { name: '登录客服工作台' }).waitFor();
    await page.getByLabel('账号').fill(LOGIN);
    await page.getByLabel('密码').fill(PASSWORD);
    await page.getByRole('button', { name: /登\s*录/ }).click();
    await page.getByRole('heading', { name: '两步验证', exact: true }).waitFor();
    // the code of the next 30-second step: the enrolment code's step was used and is not accepted twice
    await page.getByLabel('验证码').fill(authenticator.clone({ epoch: Date.now() + 30_000 }).generate(secret));
    await page.getByRole('button', { name: /验\s*证/ }).click();
    await page.getByRole('status').filter({ hasText: '已连接' }).waitFor();
  });

  await t.test('enrolment and both sign-ins are in the audit trail', async () => {
    const events = (await listAudit(srv.server.store.db, { actor: LOGIN })).reverse();
    assert.deepEqual(
      events.map((e) => [e.action, e.detail]),
      [
        ['login', { twoFactorEnrolmentRequired: true }],
        ['auth.2fa_enrol', {}],
        ['logout', {}],
        ['login', { secondFactor: 'totp' }],
      ],
    );
    assert.deepEqual(pageErrors, []);
  });
});
