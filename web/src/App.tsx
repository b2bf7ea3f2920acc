import { App as AntApp, Spin } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, setUnauthorizedHandler, type User } from './api.ts';
import { errorText } from './errors.ts';
import { useI18n } from './i18n.ts';
import { ConsolePage } from './pages/ConsolePage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';

type Session = { state: 'checking' } | { state: 'anonymous'; notice: string | null } | { state: 'signedIn'; user: User };

export function App() {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const [session, setSession] = useState<Session>({ state: 'checking' });

  useEffect(() => {
    api.me().then(
      ({ user }) => setSession({ state: 'signedIn', user }),
      (err: unknown) => {
        // a 401 is the ordinary "not signed in"; anything else is worth telling on the login page
        const notice = err instanceof ApiError && err.status === 401 ? null : errorText(err, t);
        setSession({ state: 'anonymous', notice });
      },
    );
    // the check runs once per page load; a language switch must not repeat it
  }, []);

  const logout = useCallback(() => {
    api.logout().then(
      () => setSession({ state: 'anonymous', notice: null }),
      (err: unknown) => message.error(errorText(err, t)),
    );
  }, [message, t]);

  const expired = useCallback(() => setSession({ state: 'anonymous', notice: t('error.sessionExpired') }), [t]);
  useEffect(() => {
    setUnauthorizedHandler(session.state === 'signedIn' ? expired : undefined);
  }, [session.state, expired]);

  if (session.state === 'checking') {
    return (
      <div className="kf-splash">
        <Spin size="large" />
      </div>
    );
  }
  if (session.state === 'anonymous') return <LoginPage notice={session.notice} onLoggedIn={(user) => setSession({ state: 'signedIn', user })} />;
  return <ConsolePage user={session.user} onLogout={logout} onSessionExpired={expired} />;
}
