import { Alert, Button, Form, Input } from 'antd';
import { KeyOutlined, LockOutlined, SafetyOutlined, UserOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { api, ApiError, type User } from '../api.ts';
import { authErrorText } from '../authErrors.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { useI18n } from '../i18n.ts';

interface Fields {
  login: string;
  password: string;
}

/** After the password: the account has two-step verification, so a code (or a recovery code) completes the sign-in. */
type Step = { name: 'password' } | { name: 'code'; challenge: string; recovery: boolean };

export interface SignedInResult {
  user: User;
  /** the role needs two-step verification and this account has none yet: the console leads to enrolment */
  enrolmentRequired: boolean;
  /** signed in with a recovery code: how many are left */
  recoveryCodesLeft?: number;
}

export function LoginPage({ notice, onLoggedIn }: { notice: string | null; onLoggedIn(result: SignedInResult): void }) {
  const { t } = useI18n();
  const [step, setStep] = useState<Step>({ name: 'password' });
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submitPassword = async ({ login, password }: Fields) => {
    setSubmitting(true);
    setError(null);
    try {
      const res = await api.login(login.trim(), password);
      if ('twoFactorRequired' in res) {
        setStep({ name: 'code', challenge: res.challenge, recovery: false });
        setSubmitting(false);
      } else onLoggedIn({ user: res.user, enrolmentRequired: res.twoFactorEnrolmentRequired === true });
    } catch (err) {
      setError(err);
      setSubmitting(false);
    }
  };

  const submitCode = async ({ answer }: { answer: string }) => {
    if (step.name !== 'code') return;
    setSubmitting(true);
    setError(null);
    try {
      const res = await api.loginSecondFactor(step.challenge, step.recovery ? { recoveryCode: answer.trim() } : { code: answer.replace(/\s+/g, '') });
      onLoggedIn({ user: res.user, enrolmentRequired: false, recoveryCodesLeft: res.recoveryCodesLeft });
    } catch (err) {
      setError(err);
      setSubmitting(false);
      // the challenge is gone (too slow, too many wrong codes, or locked): the password has to be entered again
      if (err instanceof ApiError && (err.code === 'challenge_expired' || err.code === 'too_many_attempts')) setStep({ name: 'password' });
    }
  };

  const alert = error ? (
    <Alert className="kf-login-alert" type="error" showIcon title={authErrorText(error, t)} role="alert" />
  ) : notice && step.name === 'password' ? (
    <Alert className="kf-login-alert" type="warning" showIcon title={notice} />
  ) : null;

  return (
    <main className="kf-login">
      <div className="kf-login-lang">
        <LanguageSwitch type="default" />
      </div>
      <div className="kf-login-card">
        <div className="kf-login-brand">
          <div className="kf-logo" aria-hidden>
            <svg viewBox="0 0 32 32" width="26" height="26">
              <path d="M7 8h18a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-9l-6 5v-5H7a2 2 0 0 1-2-2V10a2 2 0 0 1 2-2z" fill="currentColor" />
            </svg>
          </div>
          <div>
            <div className="kf-login-product">kefu</div>
            <div className="kf-hint">{t('app.tagline')}</div>
          </div>
        </div>
        {step.name === 'password' ? (
          <>
            <h1>{t('login.title')}</h1>
            {alert}
            <Form<Fields> layout="vertical" requiredMark={false} onFinish={submitPassword} disabled={submitting} size="large">
              <Form.Item label={t('login.login')} name="login" rules={[{ required: true, whitespace: true, message: t('login.loginRequired') }]}>
                <Input prefix={<UserOutlined />} placeholder={t('login.loginPlaceholder')} autoComplete="username" autoFocus />
              </Form.Item>
              <Form.Item label={t('login.password')} name="password" rules={[{ required: true, message: t('login.passwordRequired') }]}>
                <Input.Password prefix={<LockOutlined />} placeholder={t('login.passwordPlaceholder')} autoComplete="current-password" />
              </Form.Item>
              <Button type="primary" htmlType="submit" block loading={submitting}>
                {t('login.submit')}
              </Button>
            </Form>
          </>
        ) : (
          <>
            <h1>{t('login.codeTitle')}</h1>
            <p className="kf-hint">{step.recovery ? t('login.recoveryHint') : t('login.codeHint')}</p>
            {alert}
            <Form<{ answer: string }> key={step.recovery ? 'recovery' : 'code'} layout="vertical" requiredMark={false} onFinish={submitCode} disabled={submitting} size="large">
              {step.recovery ? (
                <Form.Item label={t('login.recoveryCode')} name="answer" rules={[{ required: true, whitespace: true, message: t('login.recoveryRequired') }]}>
                  <Input prefix={<KeyOutlined />} placeholder="xxxxx-xxxxx" autoComplete="off" autoFocus />
                </Form.Item>
              ) : (
                <Form.Item label={t('login.code')} name="answer" rules={[{ required: true, pattern: /^\s*\d{3}\s*\d{3}\s*$/, message: t('login.codeRequired') }]}>
                  <Input prefix={<SafetyOutlined />} placeholder="123456" inputMode="numeric" autoComplete="one-time-code" maxLength={7} autoFocus />
                </Form.Item>
              )}
              <Button type="primary" htmlType="submit" block loading={submitting}>
                {t('login.verify')}
              </Button>
            </Form>
            <div className="kf-login-links">
              <Button type="link" size="small" onClick={() => (setError(null), setStep({ ...step, recovery: !step.recovery }))}>
                {step.recovery ? t('login.useCode') : t('login.useRecovery')}
              </Button>
              <Button type="link" size="small" onClick={() => (setError(null), setStep({ name: 'password' }))}>
                {t('login.back')}
              </Button>
            </div>
          </>
        )}
        <p className="kf-login-footer">{t('login.footer')}</p>
      </div>
    </main>
  );
}
