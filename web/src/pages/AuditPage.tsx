import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, DatePicker, Empty, Input, Select, Table, Tag } from 'antd';
import type { Dayjs } from 'dayjs';
import { ApiError, auditApi, type AuditEventView } from '../api.ts';
import { useI18n } from '../i18n.ts';

const ACTIONS = ['login', 'login_failed', 'logout', 'view', 'view.refused', 'search', 'export', 'grant.request', 'grant.approve', 'grant.deny', 'grant.revoke', 'user.create', 'role.change', 'config.change'];

interface Filters {
  actor: string;
  action: string;
  range: [Dayjs | null, Dayjs | null] | null;
}

/** The audit trail for auditors and admins: who looked at, searched or exported what, newest first. */
export function AuditPage() {
  const { t } = useI18n();
  const [draft, setDraft] = useState<Filters>({ actor: '', action: '', range: null });
  const [applied, setApplied] = useState<Filters>(draft);
  const [events, setEvents] = useState<AuditEventView[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (before?: number) => {
      setLoading(true);
      setError(null);
      try {
        const r = await auditApi.list({
          actor: applied.actor || undefined,
          action: applied.action || undefined,
          from: applied.range?.[0]?.startOf('day').toISOString(),
          to: applied.range?.[1]?.endOf('day').toISOString(),
          before,
        });
        setEvents((prev) => (before ? [...prev, ...r.events] : r.events));
        setNext(r.nextBefore);
      } catch (err) {
        setError(err instanceof ApiError && err.status === 403 ? t('audit.forbidden') : String((err as Error).message));
      } finally {
        setLoading(false);
      }
    },
    [applied, t],
  );
  useEffect(() => void load(), [load]);

  return (
    <main className="kf-page kf-audit" aria-label={t('nav.audit')}>
      <h1 className="kf-page-title">{t('nav.audit')}</h1>
      <p className="kf-hint">{t('audit.hint')}</p>
      <div className="kf-audit-filters">
        <Input placeholder={t('audit.actor')} aria-label={t('audit.actor')} value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} onPressEnter={() => setApplied(draft)} style={{ width: 180 }} allowClear />
        <Select placeholder={t('audit.action')} aria-label={t('audit.action')} value={draft.action || undefined} onChange={(v?: string) => setDraft({ ...draft, action: v ?? '' })} options={ACTIONS.map((a) => ({ value: a, label: a }))} style={{ width: 180 }} allowClear />
        <DatePicker.RangePicker value={draft.range} onChange={(v) => setDraft({ ...draft, range: v as Filters['range'] })} aria-label={t('audit.range')} />
        <Button type="primary" onClick={() => setApplied(draft)}>
          {t('audit.apply')}
        </Button>
      </div>
      {error ? <Alert type="error" showIcon message={error} /> : null}
      <Table<AuditEventView>
        rowKey="id"
        size="small"
        loading={loading}
        dataSource={events}
        pagination={false}
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('audit.empty')} /> }}
        columns={[
          { title: t('audit.time'), dataIndex: 'at', width: 190, render: (v: string) => new Date(v).toLocaleString() },
          { title: t('audit.actor'), render: (_, e) => `${e.actor.login}${e.actor.role ? ` (${e.actor.role})` : ''}` },
          { title: t('audit.action'), dataIndex: 'action', render: (a: string) => <Tag color={a.startsWith('login_failed') || a.endsWith('refused') ? 'red' : a === 'export' ? 'orange' : 'blue'}>{a}</Tag> },
          { title: t('audit.target'), render: (_, e) => (e.target ? `${e.target.type}:${e.target.id}` : '') },
          { title: t('audit.query'), render: (_, e) => (e.query ? JSON.stringify(e.query) : '') },
          { title: 'IP', dataIndex: 'ip', width: 130 },
        ]}
      />
      {next ? (
        <Button block onClick={() => void load(next)} loading={loading} style={{ marginTop: 8 }}>
          {t('audit.more')}
        </Button>
      ) : null}
    </main>
  );
}
