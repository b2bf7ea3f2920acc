import { Alert, Button } from 'antd';
import { useState } from 'react';
import type { User } from '../api.ts';
import { LanguageSwitch } from '../components/LanguageSwitch.tsx';
import { RecoveryCodes, TwoFactorSetup } from '../components/TwoFactorSetup.tsx';
import { useI18n } from '../i18n.ts';

/**
 * Where an auditor or admin (or any role the admin added) lands before they have two-step verification: the server
 * gives them a session that reaches only the enrolment routes, and this page leads them through it.
 */
export function TwoFactorEnrolPage({ user, onDone, onLogout }: { user: User; onDone(): void; onLogout(): void }) {
  const { t } = useI18n();
  const [codes, setCodes] = useState<string[] | null>(null);
  return (
    <main className="kf-login">
      <div className="kf-login-lang">
        <LanguageSwitch type="default" />
      </div>
      <div className="kf-login-card kf-enrol-card">
        <h1>{t('enrol.title')}</h1>
        {codes ? (
          <RecoveryCodes codes={codes} doneLabel={t('enrol.done')} onDone={onDone} />
        ) : (
          <>
            <Alert className="kf-login-alert" type="info" showIcon title={t('enrol.why', { role: t(`role.${user.role}`) })} />
            <TwoFactorSetup onEnabled={setCodes} />
          </>
        )}
        <p className="kf-login-footer">
          {user.displayName} ·{' '}
          <Button type="link" size="small" onClick={onLogout}>
            {t('user.logout')}
          </Button>
        </p>
      </div>
    </main>
  );
}
