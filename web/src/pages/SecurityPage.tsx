import { Alert, App, Button, Checkbox, Flex, Form, Input, List, Spin, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, type Role, type SessionView, type TwoFactorStatus, type User } from '../api.ts';
import { authErrorText } from '../authErrors.ts';
import { RecoveryCodes, TwoFactorSetup } from '../components/TwoFactorSetup.tsx';
import { fullDateTime } from '../format.ts';
import { useI18n } from '../i18n.ts';

const ROLES: Role[] = ['agent', 'supervisor', 'auditor', 'admin'];

/** A short form asking for the code the authenticator app shows now, for turning 2FA off or new recovery codes. */
function CodeForm({ action, danger, onCode }: { action: string; danger?: boolean; onCode(code: string): Promise<boolean> }) {
  const { t } = useI18n();
  const [form] = Form.useForm<{ code: string }>();
  const [busy, setBusy] = useState(false);
  const submit = async ({ code }: { code: string }) => {
    setBusy(true);
    const done = await onCode(code.replace(/\s+/g, ''));
    setBusy(false);
    if (done) form.resetFields();
  };
  return (
    <Form form={form} layout="inline" onFinish={submit} disabled={busy} requiredMark={false}>
      <Form.Item name="code" rules={[{ required: true, pattern: /^\s*\d{3}\s*\d{3}\s*$/, message: t('login.codeRequired') }]}>
        <Input aria-label={`${action}: ${t('security.codePrompt')}`} placeholder={t('security.codePrompt')} inputMode="numeric" autoComplete="one-time-code" maxLength={7} style={{ width: 220 }} />
      </Form.Item>
      <Button htmlType="submit" danger={danger} loading={busy}>
        {action}
      </Button>
    </Form>
  );
}

function TwoFactorSection() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [status, setStatus] = useState<TwoFactorStatus | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [mode, setMode] = useState<'idle' | 'setup'>('idle');
  const [codes, setCodes] = useState<string[] | null>(null);
  const load = useCallback(() => api.twoFactor().then(setStatus, setError), []);
  useEffect(() => {
    void load();
  }, [load]);
  /** true when it worked; a refusal is shown as a message */
  const run = (p: Promise<unknown>): Promise<boolean> =>
    p.then(
      () => true,
      (err: unknown) => (message.error(authErrorText(err, t)), false),
    );

  if (!status) return error ? <Alert type="error" showIcon title={t('security.loadFailed')} description={authErrorText(error, t)} /> : <Spin />;
  if (codes) return <RecoveryCodes codes={codes} doneLabel={t('security.ok')} onDone={() => (setCodes(null), setMode('idle'), void load())} />;
  if (mode === 'setup') return <TwoFactorSetup onEnabled={(c) => (setCodes(c), message.success(t('security.enabled')))} />;
  return (
    <Flex vertical gap={12}>
      <Flex align="center" gap={8}>
        <Tag color={status.enabled ? 'green' : 'default'}>{status.enabled ? t('security.tfaOn') : t('security.tfaOff')}</Tag>
        <Typography.Text type="secondary">{status.required ? t('security.tfaRequired') : t('security.tfaOptional')}</Typography.Text>
      </Flex>
      {status.enabled ? (
        <>
          <Typography.Text>{t('security.codesLeft', { n: status.recoveryCodesLeft })}</Typography.Text>
          <CodeForm action={t('security.newCodes')} onCode={(code) => run(api.newRecoveryCodes(code).then((r) => setCodes(r.recoveryCodes)))} />
          {status.required ? null : (
            <CodeForm
              action={t('security.disable')}
              danger
              onCode={(code) =>
                run(
                  api.twoFactorDisable(code).then(() => {
                    message.success(t('security.disabled'));
                    return load();
                  }),
                )
              }
            />
          )}
        </>
      ) : (
        <Button type="primary" style={{ alignSelf: 'flex-start' }} onClick={() => setMode('setup')}>
          {t('security.enable')}
        </Button>
      )}
    </Flex>
  );
}

function PasswordSection({ onChanged }: { onChanged(): void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ current: string; next: string; repeat: string }>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (v: { current: string; next: string }) => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.changePassword(v.current, v.next);
      message.success(t('security.passwordChanged', { n: r.revokedSessions }));
      form.resetFields();
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form form={form} layout="vertical" onFinish={submit} disabled={busy} requiredMark={false} style={{ maxWidth: 360 }}>
      {error ? <Alert className="kf-login-alert" type="error" showIcon title={authErrorText(error, t)} role="alert" /> : null}
      <Form.Item name="current" label={t('security.current')} rules={[{ required: true, message: t('login.passwordRequired') }]}>
        <Input.Password autoComplete="current-password" />
      </Form.Item>
      <Form.Item name="next" label={t('security.next')} extra={t('security.rules')} rules={[{ required: true, min: 10, message: t('security.tooShort') }]}>
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Form.Item
        name="repeat"
        label={t('security.repeat')}
        dependencies={['next']}
        rules={[{ required: true, message: t('security.mismatch') }, ({ getFieldValue }) => ({ validator: (_, v) => (v === getFieldValue('next') ? Promise.resolve() : Promise.reject(new Error(t('security.mismatch')))) })]}
      >
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={busy}>
        {t('security.password')}
      </Button>
    </Form>
  );
}

/** "Chrome 126 · Windows" is enough to recognise a device; the full user agent is in the tooltip. */
function deviceName(ua: string | null, unknown: string): string {
  if (!ua) return unknown;
  const browser = /Edg\/(\d+)/.exec(ua)?.[0].replace('Edg/', 'Edge ') ?? /Chrome\/(\d+)/.exec(ua)?.[0].replace('/', ' ') ?? /Firefox\/(\d+)/.exec(ua)?.[0].replace('/', ' ') ?? (/Safari\//.test(ua) ? 'Safari' : null);
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : null;
  return [browser, os].filter(Boolean).join(' · ') || ua.slice(0, 40);
}

function SessionsSection({ refreshKey }: { refreshKey: number }) {
  const { t, lang } = useI18n();
  const { message } = App.useApp();
  const [sessions, setSessions] = useState<SessionView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => api.sessions().then((r) => setSessions(r.sessions), setError), []);
  useEffect(() => {
    void load();
  }, [load, refreshKey]);
  const end = (id: string) =>
    api.endSession(id).then(
      () => (message.success(t('security.sessionEnded')), void load()),
      (err: unknown) => message.error(authErrorText(err, t)),
    );
  if (!sessions) return error ? <Alert type="error" showIcon title={t('security.loadFailed')} description={authErrorText(error, t)} /> : <Spin />;
  return (
    <>
      <Typography.Paragraph type="secondary">{t('security.sessionsHint')}</Typography.Paragraph>
      <List
        size="small"
        bordered
        dataSource={sessions}
        renderItem={(s) => (
          <List.Item
            actions={
              s.current
                ? [<Tag key="current" color="blue">{t('security.thisDevice')}</Tag>]
                : [
                    <Button key="end" size="small" onClick={() => void end(s.id)}>
                      {t('security.endSession')}
                    </Button>,
                  ]
            }
          >
            <List.Item.Meta
              title={<span title={s.userAgent ?? undefined}>{deviceName(s.userAgent, t('security.unknownDevice'))}</span>}
              description={`${s.ip ?? ''} · ${t('security.signedIn', { time: fullDateTime(s.createdAt, lang) })} · ${t('security.lastSeen', { time: fullDateTime(s.lastSeenAt, lang) })}`}
            />
          </List.Item>
        )}
      />
    </>
  );
}

/** A role setting of the admin's: which roles must use 2FA, which roles approve access requests. */
interface RolePolicy {
  roles: Role[];
  /** roles that cannot be unticked */
  fixed: Role[];
}

const POLICIES = {
  twoFactor: {
    hint: 'security.policyHint',
    load: () => api.twoFactorPolicy().then((p) => ({ roles: p.roles, fixed: p.alwaysRequired })),
    save: (roles: Role[]) => api.setTwoFactorPolicy(roles).then((p) => ({ roles: p.roles, fixed: p.alwaysRequired })),
  },
  approvers: {
    hint: 'security.approversHint',
    load: () => api.approverPolicy().then((p) => ({ roles: p.roles, fixed: p.alwaysApprover })),
    save: (roles: Role[]) => api.setApproverPolicy(roles).then((p) => ({ roles: p.roles, fixed: p.alwaysApprover })),
  },
} as const;

function PolicySection({ which }: { which: keyof typeof POLICIES }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const [policy, setPolicy] = useState<RolePolicy | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [busy, setBusy] = useState(false);
  const p = POLICIES[which];
  useEffect(() => {
    p.load().then(
      (loaded) => (setPolicy(loaded), setRoles(loaded.roles)),
      (err: unknown) => message.error(authErrorText(err, t)),
    );
  }, [p, message, t]);
  if (!policy) return <Spin />;
  const save = () => {
    setBusy(true);
    p.save(roles).then(
      (saved) => (setPolicy(saved), setRoles(saved.roles), message.success(t('security.saved')), setBusy(false)),
      (err: unknown) => (message.error(authErrorText(err, t)), setBusy(false)),
    );
  };
  return (
    <Flex vertical gap={12}>
      <Typography.Text type="secondary">{t(p.hint)}</Typography.Text>
      <Checkbox.Group
        value={roles}
        onChange={(v) => setRoles(v as Role[])}
        options={ROLES.map((r) => ({ label: t(`role.${r}`), value: r, disabled: policy.fixed.includes(r) }))}
      />
      <Button type="primary" style={{ alignSelf: 'flex-start' }} loading={busy} onClick={save}>
        {t('security.save')}
      </Button>
    </Flex>
  );
}

/** Account security: two-step verification, password, sessions; for admins also which roles must use 2FA. */
export function SecurityPage({ user }: { user: User }) {
  const { t } = useI18n();
  // a password change signs out the other sessions: the list reloads
  const [changes, setChanges] = useState(0);
  return (
    <div className="kf-security">
      <section aria-labelledby="kf-sec-tfa">
        <Typography.Title level={5} id="kf-sec-tfa">
          {t('security.tfa')}
        </Typography.Title>
        <TwoFactorSection />
      </section>
      <section aria-labelledby="kf-sec-password">
        <Typography.Title level={5} id="kf-sec-password">
          {t('security.password')}
        </Typography.Title>
        <PasswordSection onChanged={() => setChanges((n) => n + 1)} />
      </section>
      <section aria-labelledby="kf-sec-sessions">
        <Typography.Title level={5} id="kf-sec-sessions">
          {t('security.sessions')}
        </Typography.Title>
        <SessionsSection refreshKey={changes} />
      </section>
      {user.role === 'admin' ? (
        <section aria-labelledby="kf-sec-policy">
          <Typography.Title level={5} id="kf-sec-policy">
            {t('security.policy')}
          </Typography.Title>
          <PolicySection which="twoFactor" />
        </section>
      ) : null}
      {user.role === 'admin' ? (
        <section aria-labelledby="kf-sec-approvers">
          <Typography.Title level={5} id="kf-sec-approvers">
            {t('security.approvers')}
          </Typography.Title>
          <PolicySection which="approvers" />
        </section>
      ) : null}
    </div>
  );
}
