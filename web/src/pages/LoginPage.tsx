import { Alert, Button, Form, Input } from 'antd';
import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { useState } from 'react';
import { api, type User } from '../api.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { errorText } from '../errors.ts';
import { useI18n } from '../i18n.ts';

interface Fields {
  login: string;
  password: string;
}

export function LoginPage({ notice, onLoggedIn }: { notice: string | null; onLoggedIn(user: User): void }) {
  const { t } = useI18n();
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async ({ login, password }: Fields) => {
    setSubmitting(true);
    setError(null);
    try {
      const res = await api.login(login.trim(), password);
      onLoggedIn(res.user);
    } catch (err) {
      setError(err);
      setSubmitting(false);
    }
  };

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
        <h1>{t('login.title')}</h1>
        {error ? (
          <Alert className="kf-login-alert" type="error" showIcon title={errorText(error, t)} role="alert" />
        ) : notice ? (
          <Alert className="kf-login-alert" type="warning" showIcon title={notice} />
        ) : null}
        <Form<Fields> layout="vertical" requiredMark={false} onFinish={submit} disabled={submitting} size="large">
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
        <p className="kf-login-footer">{t('login.footer')}</p>
      </div>
    </main>
  );
}
