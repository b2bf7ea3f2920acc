import { Alert, Button, Checkbox, Flex, Form, Input, Spin, Typography } from 'antd';
import { CopyOutlined, DownloadOutlined } from '@ant-design/icons';
import { useEffect, useRef, useState } from 'react';
import { api, type TwoFactorSetup as Setup } from '../api.ts';
import { authErrorText } from '../authErrors.ts';
import { useI18n } from '../i18n.ts';

/** "JBSW Y3DP EHPK 3PXP": a key typed by hand is easier to read in groups of four. */
const grouped = (secret: string) => secret.replace(/(.{4})/g, '$1 ').trim();

/**
 * Enrolment: a new secret as a QR code and as text, then a code from the app to confirm it. The server keeps the
 * secret pending until a matching code arrives, so a half-finished setup changes nothing.
 */
export function TwoFactorSetup({ onEnabled }: { onEnabled(recoveryCodes: string[]): void }) {
  const { t } = useI18n();
  const [setup, setSetup] = useState<Setup | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [submitting, setSubmitting] = useState(false);
  // one setup per mount: a second request would replace the pending secret the page shows
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    api.twoFactorSetup().then(setSetup, setError);
  }, []);

  const confirm = async ({ code }: { code: string }) => {
    setSubmitting(true);
    setError(null);
    try {
      const { recoveryCodes } = await api.twoFactorConfirm(code.replace(/\s+/g, ''));
      onEnabled(recoveryCodes);
    } catch (err) {
      setError(err);
      setSubmitting(false);
    }
  };

  if (!setup) {
    return error ? (
      <Alert type="error" showIcon title={authErrorText(error, t)} role="alert" />
    ) : (
      <Flex align="center" gap={8} className="kf-hint">
        <Spin size="small" /> {t('tfa.loading')}
      </Flex>
    );
  }
  return (
    <div className="kf-tfa-setup">
      <Typography.Paragraph strong>{t('tfa.scan')}</Typography.Paragraph>
      {setup.qrDataUrl ? <img className="kf-tfa-qr" src={setup.qrDataUrl} alt={t('tfa.qrAlt')} width={200} height={200} /> : null}
      <Typography.Paragraph className="kf-hint" style={{ marginBottom: 4 }}>
        {t('tfa.manual')}
      </Typography.Paragraph>
      <Typography.Paragraph>
        <Typography.Text code copyable={{ text: setup.secret }} aria-label={t('tfa.secret')}>
          {grouped(setup.secret)}
        </Typography.Text>
      </Typography.Paragraph>
      <Typography.Paragraph strong>{t('tfa.enterCode')}</Typography.Paragraph>
      {error ? <Alert className="kf-login-alert" type="error" showIcon title={authErrorText(error, t)} role="alert" /> : null}
      <Form<{ code: string }> layout="inline" onFinish={confirm} disabled={submitting} requiredMark={false}>
        <Form.Item name="code" label={t('login.code')} rules={[{ required: true, pattern: /^\s*\d{3}\s*\d{3}\s*$/, message: t('login.codeRequired') }]}>
          <Input inputMode="numeric" autoComplete="one-time-code" maxLength={7} placeholder="123456" autoFocus style={{ width: 120 }} />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={submitting}>
          {t('tfa.confirm')}
        </Button>
      </Form>
    </div>
  );
}

/** The recovery codes, shown once: copy, download, and a tick that they are saved before going on. */
export function RecoveryCodes({ codes, doneLabel, onDone }: { codes: string[]; doneLabel: string; onDone(): void }) {
  const { t } = useI18n();
  const [saved, setSaved] = useState(false);
  const [copied, setCopied] = useState(false);
  const text = codes.join('\n');
  const copy = () => {
    navigator.clipboard?.writeText(text).then(() => setCopied(true), () => setCopied(false));
  };
  const download = () => {
    const url = URL.createObjectURL(new Blob([`kefu ${t('tfa.codesLabel')}\n\n${text}\n`], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'kefu-recovery-codes.txt';
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <div className="kf-tfa-codes">
      <Typography.Title level={5}>{t('tfa.codesTitle')}</Typography.Title>
      <Typography.Paragraph className="kf-hint">{t('tfa.codesHint')}</Typography.Paragraph>
      <ul className="kf-tfa-code-list" aria-label={t('tfa.codesLabel')}>
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <Flex gap={8} wrap>
        <Button icon={<CopyOutlined />} onClick={copy}>
          {copied ? t('tfa.copied') : t('tfa.copy')}
        </Button>
        <Button icon={<DownloadOutlined />} onClick={download}>
          {t('tfa.download')}
        </Button>
      </Flex>
      <Flex vertical gap={12} style={{ marginTop: 16 }}>
        <Checkbox checked={saved} onChange={(e) => setSaved(e.target.checked)}>
          {t('tfa.saved')}
        </Checkbox>
        <Button type="primary" disabled={!saved} onClick={onDone}>
          {doneLabel}
        </Button>
      </Flex>
    </div>
  );
}
