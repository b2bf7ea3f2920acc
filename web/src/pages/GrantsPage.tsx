import { Alert, App, Button, Checkbox, DatePicker, Form, Input, Modal, Popconfirm, Radio, Select, Table, Tabs, Tag, Tooltip, type TableColumnsType } from 'antd';
import { ReloadOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { useCallback, useEffect, useMemo, useState, type HTMLAttributes, type ReactNode } from 'react';
import { api, type Grant, type GrantQuery, type GrantRequest, type GrantScopeKind, type GrantState, type User } from '../api.ts';
import { errorText } from '../errors.ts';
import { fullDateTime } from '../format.ts';
import { useI18n, type Translate } from '../i18n.ts';
import { Link, paths } from '../router.ts';

const DURATIONS = [1, 4, 24, 72, 168, 720] as const;
const STATE_COLOURS: Record<GrantState, string> = { requested: 'orange', approved: 'green', denied: 'red', expired: 'default', revoked: 'default' };

function durationText(hours: number, t: Translate): string {
  return hours < 24 || hours % 24 !== 0 ? t('grants.hours', { n: hours }) : t('grants.days', { n: hours / 24 });
}

const splitIds = (text: string) => [...new Set(text.split(/[\s,，、;；]+/).map((s) => s.trim()).filter(Boolean))];

interface FormValues {
  kind: GrantScopeKind;
  customerId?: string;
  conversationIds?: string;
  q?: string;
  queryCustomer?: string;
  queryTag?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
  reason?: string;
  durationHours: number;
  unmask?: boolean;
}

function requestOf(v: FormValues): GrantRequest {
  const common = { reason: (v.reason ?? '').trim(), durationHours: v.durationHours, ...(v.unmask ? { unmask: true } : {}) };
  if (v.kind === 'customer') return { kind: 'customer', customerId: (v.customerId ?? '').trim(), ...common };
  if (v.kind === 'conversations') return { kind: 'conversations', conversationIds: splitIds(v.conversationIds ?? ''), ...common };
  const [start, end] = v.range ?? [null, null];
  const query: GrantQuery = { q: (v.q ?? '').trim() };
  if (v.queryCustomer?.trim()) query.customer = v.queryCustomer.trim();
  if (v.queryTag?.trim()) query.tag = v.queryTag.trim();
  if (start) query.from = start.startOf('day').format();
  if (end) query.to = end.add(1, 'day').startOf('day').format();
  return { kind: 'query', query, ...common };
}

/** What a grant covers, with links to read it while it is valid. */
function ScopeCell({ grant }: { grant: Grant }) {
  const { t } = useI18n();
  return (
    <>
      <ScopeText grant={grant} />
      {grant.unmask ? (
        <Tag color="volcano" variant="filled" className="kf-grant-unmask">
          {t('grants.unmaskTag')}
        </Tag>
      ) : null}
    </>
  );
}

function ScopeText({ grant }: { grant: Grant }) {
  const { t } = useI18n();
  const readable = grant.state === 'approved';
  const s = grant.scope;
  if (s.kind === 'customer') {
    return (
      <span className="kf-grant-scope">
        {t('grants.scope.customer')}
        {readable ? <Link to={paths.customer(s.customerId)}>{s.customerId}</Link> : <code>{s.customerId}</code>}
      </span>
    );
  }
  if (s.kind === 'conversations') {
    return (
      <span className="kf-grant-scope">
        {t('grants.scope.conversations')}
        {s.conversationIds.map((id) =>
          readable ? (
            <Link key={id} to={paths.conversation(id)} className="kf-grant-conversation" title={id}>
              {id}
            </Link>
          ) : (
            <code key={id}>{id}</code>
          ),
        )}
      </span>
    );
  }
  const { q, ...filters } = s.query;
  const rest = Object.entries(filters).map(([k, v]) => `${k}=${v}`).join(' ');
  const params = new URLSearchParams(Object.entries(s.query).filter(([, v]) => v) as Array<[string, string]>);
  const text = `${q ? t('grants.scope.query', { q }) : ''}${rest ? ` ${t('grants.scope.filters', { filters: rest })}` : ''}`;
  return readable ? <Link to={paths.archive(params)}>{text}</Link> : <span>{text}</span>;
}

function StateCell({ grant }: { grant: Grant }) {
  const { t } = useI18n();
  return (
    <Tag color={STATE_COLOURS[grant.state]} variant="filled" className="kf-grant-state" data-state={grant.state}>
      {t(`grants.state.${grant.state}`)}
    </Tag>
  );
}

type List = 'mine' | 'pending' | 'all';

/** The lists; whether the user decides on requests is the server's answer (admins, or a configured approver role). */
function useGrantLists() {
  const [lists, setLists] = useState<Record<List, Grant[]>>({ mine: [], pending: [], all: [] });
  const [approver, setApprover] = useState<boolean | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const reload = useCallback(() => {
    setLoading(true);
    api
      .grants('mine')
      .then(async (mine) => {
        const [pending, all] = mine.mayDecide ? await Promise.all([api.grants('pending'), api.grants('all')]) : [null, null];
        setLists({ mine: mine.grants, pending: pending?.grants ?? [], all: all?.grants ?? [] });
        setApprover(mine.mayDecide);
        setError(null);
        setLoading(false);
      })
      .catch((err: unknown) => {
        setError(err);
        setLoading(false);
      });
  }, []);
  useEffect(reload, [reload]);
  return { ...lists, approver: approver === true, approverKnown: approver !== null, loading, error, reload };
}

/**
 * 访问申请: ask for access to a customer, some conversations or what a search finds; follow one's own requests; and,
 * for approvers, decide on pending ones and review all of them.
 */
export function GrantsPage({ user, params }: { user: User; params: URLSearchParams }) {
  const { t, lang } = useI18n();
  const { message } = App.useApp();
  const lists = useGrantLists();
  const approver = lists.approver;
  const [form] = Form.useForm<FormValues>();
  const kind = Form.useWatch('kind', form) ?? 'conversations';
  const [submitting, setSubmitting] = useState(false);
  const [tab, setTab] = useState<List>('mine');
  // approvers land on the pending requests, once the server has said who they are
  useEffect(() => {
    if (approver) setTab('pending');
  }, [approver]);
  const [denying, setDenying] = useState<Grant | null>(null);
  const [denyNote, setDenyNote] = useState('');
  const [busy, setBusy] = useState<string | null>(null);

  // a link from a conversation one may not read pre-fills the request
  const prefill = useMemo<Partial<FormValues>>(() => {
    const k = params.get('kind');
    const unmask = params.get('unmask') === '1' ? { unmask: true } : {};
    if (k === 'customer') return { kind: 'customer', customerId: params.get('customer') ?? '', ...unmask };
    if (k === 'conversations') return { kind: 'conversations', conversationIds: (params.get('ids') ?? '').split(',').join('\n'), ...unmask };
    return {};
  }, [params]);
  useEffect(() => {
    if (prefill.kind) form.setFieldsValue(prefill);
  }, [prefill, form]);

  const submit = async (values: FormValues) => {
    setSubmitting(true);
    try {
      await api.requestGrant(requestOf(values));
      message.success(t('grants.submitted'));
      form.resetFields(['customerId', 'conversationIds', 'q', 'queryCustomer', 'queryTag', 'range', 'reason', 'unmask']);
      setTab('mine');
      lists.reload();
    } catch (err) {
      message.error(errorText(err, t));
    } finally {
      setSubmitting(false);
    }
  };

  const act = async (grant: Grant, action: () => Promise<unknown>, done: string) => {
    setBusy(grant.id);
    try {
      await action();
      message.success(done);
      lists.reload();
    } catch (err) {
      message.error(errorText(err, t));
    } finally {
      setBusy(null);
    }
  };

  const confirmDeny = async () => {
    if (!denying) return;
    if (denyNote.trim().length < 2) {
      message.error(t('grants.denyNoteRequired'));
      return;
    }
    const g = denying;
    setDenying(null);
    await act(g, () => api.denyGrant(g.id, denyNote.trim()), t('grants.deniedToast'));
    setDenyNote('');
  };

  const time = (iso: string | null) => (iso ? fullDateTime(iso, lang) : '—');

  const columns = (list: List): TableColumnsType<Grant> => {
    const cols: TableColumnsType<Grant> = [];
    if (list !== 'mine') cols.push({ title: t('grants.col.requester'), key: 'requester', render: (_, g) => g.requester.login, width: 110 });
    cols.push(
      { title: t('grants.col.scope'), key: 'scope', render: (_, g) => <ScopeCell grant={g} /> },
      { title: t('grants.col.reason'), dataIndex: 'reason', key: 'reason' },
      { title: t('grants.col.duration'), key: 'duration', render: (_, g) => durationText(g.durationHours, t), width: 90 },
      { title: t('grants.col.requestedAt'), key: 'requestedAt', render: (_, g) => time(g.requestedAt), width: 150 },
    );
    if (list === 'pending') {
      cols.push({
        title: t('grants.col.coverage'),
        key: 'coverage',
        width: 110,
        render: (_, g) => (g.preview?.tooBroad ? <Tag color="red">{t('grants.tooBroad')}</Tag> : t('grants.coverage', { n: g.preview?.conversations ?? 0 })),
      });
    } else {
      cols.push(
        { title: t('grants.col.state'), key: 'state', render: (_, g) => <StateCell grant={g} />, width: 90 },
        { title: t('grants.col.expiresAt'), key: 'expiresAt', render: (_, g) => time(g.expiresAt), width: 150 },
        {
          title: t('grants.col.decision'),
          key: 'decision',
          width: 200,
          render: (_, g) =>
            g.approver ? (
              <span>
                {t('grants.by', { login: g.approver.login, time: time(g.decidedAt) })}
                {g.conversations !== null ? ` · ${t('grants.coverage', { n: g.conversations })}` : ''}
                {g.decisionNote ? <div className="kf-hint">{t('grants.note', { note: g.decisionNote })}</div> : null}
              </span>
            ) : (
              '—'
            ),
        },
      );
    }
    cols.push({
      title: t('grants.col.actions'),
      key: 'actions',
      width: 150,
      render: (_, g) => {
        const own = g.requester.id === user.id;
        const buttons: ReactNode[] = [];
        if (list === 'pending') {
          const ownHint = own ? t('grants.ownRequest') : undefined;
          buttons.push(
            <Popconfirm
              key="approve"
              title={t('grants.approve')}
              description={t('grants.approveConfirm', { n: g.preview?.conversations ?? 0, duration: durationText(g.durationHours, t) })}
              onConfirm={() => act(g, () => api.approveGrant(g.id), t('grants.approvedToast'))}
              disabled={own}
            >
              <Tooltip title={ownHint}>
                <Button type="primary" size="small" disabled={own || g.preview?.tooBroad} loading={busy === g.id}>
                  {t('grants.approve')}
                </Button>
              </Tooltip>
            </Popconfirm>,
            <Tooltip key="deny" title={ownHint}>
              <Button danger size="small" disabled={own} onClick={() => setDenying(g)}>
                {t('grants.deny')}
              </Button>
            </Tooltip>,
          );
        } else if (g.state === 'requested' && own) {
          buttons.push(
            <Button key="withdraw" size="small" loading={busy === g.id} onClick={() => act(g, () => api.revokeGrant(g.id), t('grants.revokedToast'))}>
              {t('grants.withdraw')}
            </Button>,
          );
        } else if (g.state === 'approved' && (own || approver)) {
          buttons.push(
            <Popconfirm key="revoke" title={t('grants.revoke')} onConfirm={() => act(g, () => api.revokeGrant(g.id), t('grants.revokedToast'))}>
              <Button size="small" danger loading={busy === g.id}>
                {t('grants.revoke')}
              </Button>
            </Popconfirm>,
          );
        }
        return <span className="kf-grant-actions">{buttons}</span>;
      },
    });
    return cols;
  };

  const table = (list: List) => (
    <Table<Grant>
      rowKey="id"
      size="middle"
      className={`kf-grants-table kf-grants-${list}`}
      aria-label={t(list === 'mine' ? 'grants.mine' : list === 'pending' ? 'grants.pending' : 'grants.history')}
      columns={columns(list)}
      dataSource={lists[list]}
      loading={lists.loading}
      pagination={lists[list].length > 20 ? { pageSize: 20 } : false}
      locale={{ emptyText: t('grants.empty') }}
      onRow={(g) => ({ 'data-grant-id': g.id }) as HTMLAttributes<HTMLElement>}
    />
  );

  const tabs = [{ key: 'mine', label: `${t('grants.mine')} (${lists.mine.length})`, children: table('mine') }];
  if (approver) {
    tabs.unshift({ key: 'pending', label: `${t('grants.pending')} (${lists.pending.length})`, children: table('pending') });
    tabs.push({ key: 'all', label: t('grants.history'), children: table('all') });
  }

  return (
    <main className="kf-page" aria-label={t('grants.title')}>
      <div className="kf-grants">
        <header className="kf-page-head">
          <h1>
            <SafetyCertificateOutlined /> {t('grants.title')}
          </h1>
          <p className="kf-hint">{t('grants.subtitle')}</p>
        </header>

        <section className="kf-card kf-grant-form" aria-label={t('grants.new')}>
          <h2 className="kf-panel-title">{t('grants.new')}</h2>
          <Form<FormValues> form={form} layout="vertical" initialValues={{ kind: 'conversations', durationHours: 24, ...prefill }} onFinish={submit} requiredMark={false}>
            <Form.Item name="kind" label={t('grants.kind')}>
              <Radio.Group optionType="button" buttonStyle="solid" options={(['conversations', 'customer', 'query'] as const).map((k) => ({ value: k, label: t(`grants.kind.${k}`) }))} />
            </Form.Item>
            {kind === 'customer' ? (
              <Form.Item name="customerId" label={t('grants.customerId')} rules={[{ required: true, whitespace: true, message: t('grants.scopeRequired') }]}>
                <Input placeholder={t('grants.customerPlaceholder')} />
              </Form.Item>
            ) : kind === 'conversations' ? (
              <Form.Item name="conversationIds" label={t('grants.conversationIds')} rules={[{ required: true, whitespace: true, message: t('grants.scopeRequired') }]}>
                <Input.TextArea autoSize={{ minRows: 1, maxRows: 6 }} placeholder={t('grants.conversationPlaceholder')} />
              </Form.Item>
            ) : (
              <div className="kf-grant-query">
                <Form.Item name="q" label={t('grants.query')}>
                  <Input placeholder={t('grants.queryPlaceholder')} />
                </Form.Item>
                <Form.Item name="queryCustomer" label={t('grants.queryCustomer')}>
                  <Input placeholder={t('grants.customerPlaceholder')} />
                </Form.Item>
                <Form.Item name="queryTag" label={t('grants.queryTag')}>
                  <Input />
                </Form.Item>
                <Form.Item name="range" label={t('grants.queryRange')}>
                  <DatePicker.RangePicker allowEmpty={[true, true]} />
                </Form.Item>
              </div>
            )}
            <Form.Item
              name="reason"
              label={t('grants.reason')}
              rules={[{ validator: async (_, v: string | undefined) => ((v ?? '').trim().length >= 5 ? undefined : Promise.reject(new Error(t('grants.reasonTooShort')))) }]}
            >
              <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} maxLength={1000} placeholder={t('grants.reasonPlaceholder')} />
            </Form.Item>
            <Form.Item name="unmask" valuePropName="checked" extra={t('grants.unmaskHint')}>
              <Checkbox>{t('grants.unmask')}</Checkbox>
            </Form.Item>
            <div className="kf-grant-submit">
              <Form.Item name="durationHours" label={t('grants.duration')}>
                <Select style={{ width: 140 }} options={DURATIONS.map((h) => ({ value: h, label: durationText(h, t) }))} />
              </Form.Item>
              <Button type="primary" htmlType="submit" loading={submitting}>
                {t('grants.submit')}
              </Button>
            </div>
          </Form>
        </section>

        <section className="kf-card kf-grant-lists">
          {lists.error ? (
            <Alert
              type="error"
              showIcon
              title={t('grants.loadFailed')}
              description={errorText(lists.error, t)}
              action={
                <Button size="small" icon={<ReloadOutlined />} onClick={lists.reload}>
                  {t('grants.retry')}
                </Button>
              }
            />
          ) : null}
          {lists.approverKnown && !approver ? <p className="kf-hint">{t('grants.approverOnly')}</p> : null}
          <Tabs
            activeKey={tab}
            onChange={(k) => setTab(k as List)}
            items={tabs}
            tabBarExtraContent={<Button type="text" icon={<ReloadOutlined />} aria-label={t('grants.retry')} onClick={lists.reload} />}
          />
        </section>
      </div>

      <Modal
        open={denying !== null}
        title={t('grants.denyTitle')}
        okText={t('grants.deny')}
        okButtonProps={{ danger: true }}
        onOk={confirmDeny}
        onCancel={() => {
          setDenying(null);
          setDenyNote('');
        }}
      >
        <label className="kf-grant-deny-label">
          {t('grants.denyNote')}
          <Input.TextArea value={denyNote} onChange={(e) => setDenyNote(e.target.value)} autoSize={{ minRows: 2, maxRows: 5 }} placeholder={t('grants.denyNotePlaceholder')} aria-label={t('grants.denyNote')} />
        </label>
      </Modal>
    </main>
  );
}
