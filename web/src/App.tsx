import { App as AntApp, Spin } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, setEnrolmentRequiredHandler, setUnauthorizedHandler, type User } from './api.ts';
import { errorText } from './errors.ts';
import { useI18n } from './i18n.ts';
import { ConsolePage } from './pages/ConsolePage.tsx';
import { LoginPage, type SignedInResult } from './pages/LoginPage.tsx';
import { TwoFactorEnrolPage } from './pages/TwoFactorEnrolPage.tsx';
import { useSessionKeepAlive } from './hooks/useSessionKeepAlive.ts';

/** enrolling: signed in, but the role needs two-step verification first; the server allows nothing else until then */
type Session = { state: 'checking' } | { state: 'anonymous'; notice: string | null } | { state: 'enrolling'; user: User } | { state: 'signedIn'; user: User };

export function App() {
  const { t } = useI18n();
  const { message } = AntApp.useApp();
  const [session, setSession] = useState<Session>({ state: 'checking' });

  useEffect(() => {
    api.me().then(
      ({ user, twoFactorEnrolmentRequired }) => setSession({ state: twoFactorEnrolmentRequired ? 'enrolling' : 'signedIn', user }),
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

  // the admin may require two-step verification of this role while the console is open
  const signedInUser = session.state === 'signedIn' ? session.user : null;
  useEffect(() => {
    setEnrolmentRequiredHandler(signedInUser ? () => setSession({ state: 'enrolling', user: signedInUser }) : undefined);
  }, [signedInUser]);
  useSessionKeepAlive(session.state === 'signedIn');

  const loggedIn = useCallback(
    ({ user, enrolmentRequired, recoveryCodesLeft }: SignedInResult) => {
      setSession({ state: enrolmentRequired ? 'enrolling' : 'signedIn', user });
      if (recoveryCodesLeft !== undefined) message.warning(t('login.recoveryLeft', { n: recoveryCodesLeft }), 8);
    },
    [message, t],
  );

  if (session.state === 'checking') {
    return (
      <div className="kf-splash">
        <Spin size="large" />
      </div>
    );
  }
  if (session.state === 'anonymous') return <LoginPage notice={session.notice} onLoggedIn={loggedIn} />;
  if (session.state === 'enrolling') return <TwoFactorEnrolPage user={session.user} onDone={() => setSession({ state: 'signedIn', user: session.user })} onLogout={logout} />;
  return <ConsolePage user={session.user} onLogout={logout} onSessionExpired={expired} />;
}
