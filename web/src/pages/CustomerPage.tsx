import { Alert, App, Button, Descriptions, Empty, Skeleton, Spin, Tag, Tooltip, Typography } from 'antd';
import { CrownFilled, DownOutlined, ExportOutlined, EyeInvisibleOutlined, EyeOutlined, GlobalOutlined, RightOutlined, SearchOutlined } from '@ant-design/icons';
import { useEffect, useState } from 'react';
import { ApiError, fetchMessagesAfter, unmaskConversation, type ConversationSummary, type CustomerOriginal, type MessageView } from '../api.ts';
import { UnmaskedValue } from '../components/UnmaskedValue.tsx';
import { CustomerAvatar } from '../components/CustomerAvatar.tsx';
import { SenderTag } from '../components/SenderTag.tsx';
import { StateTag } from '../components/StateTag.tsx';
import { errorText } from '../errors.ts';
import { attributeText, isMediaType, timestamp } from '../format.ts';
import { useCustomer } from '../hooks/useCustomer.ts';
import { useI18n } from '../i18n.ts';
import { rememberCustomer } from '../recent.ts';
import { Link, navigate, paths } from '../router.ts';

/** Conversations shown with their messages straight away; older ones open on a click. */
const EXPANDED_AT_FIRST = 5;

/** What 显示原文 showed: the customer as written, and the original text by seq of each conversation it covered. */
interface Shown {
  customer: CustomerOriginal | null;
  texts: Record<string, Record<number, string>>;
}

/** A customer's profile and every conversation they had, newest first, each with all its messages. */
export function CustomerPage({ customerId }: { customerId: string }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const { customer: masked, conversations, mayUnmask, loading, error } = useCustomer(customerId, '');
  const [shown, setShown] = useState<Shown | null>(null);
  const [unmasking, setUnmasking] = useState(false);
  const asWritten = masked && shown?.customer?.id === masked.id ? shown.customer : null;
  const customer = masked && asWritten ? { ...masked, name: asWritten.name, phone: asWritten.phone, email: asWritten.email, attributes: asWritten.attributes } : masked;
  const field = (f: CustomerOriginal['pii'][number], value: string | null) => (value !== null && asWritten?.pii.includes(f) ? <UnmaskedValue>{value}</UnmaskedValue> : value);

  useEffect(() => setShown(null), [customerId]);

  // each conversation through its own POST …/unmask, so the audit trail has one unmask event per conversation shown
  const toggleOriginal = async () => {
    if (shown) {
      setShown(null);
      return;
    }
    setUnmasking(true);
    try {
      const next: Shown = { customer: null, texts: {} };
      for (const id of mayUnmask) {
        const r = await unmaskConversation(id);
        next.texts[id] = r.original;
        next.customer ??= r.customer;
      }
      setShown(next);
      message.info(t('unmask.shownToast'));
    } catch (err) {
      message.error(errorText(err, t));
    } finally {
      setUnmasking(false);
    }
  };

  // the masked name: the recent list is kept in the browser, beyond the audited view
  useEffect(() => {
    if (masked) rememberCustomer({ id: masked.id, name: masked.name });
  }, [masked]);

  if (error instanceof ApiError && error.code === 'grant_required') {
    return (
      <main className="kf-page">
        <div className="kf-customer-page">
          <Alert
            type="warning"
            showIcon
            title={t('grant.required')}
            description={t('grant.requiredHint')}
            action={
              <Button type="primary" onClick={() => navigate(paths.grants({ kind: 'customer', id: customerId }))}>
                {t('grant.request')}
              </Button>
            }
          />
        </div>
      </main>
    );
  }
  if (error) {
    const missing = error instanceof ApiError && error.status === 404;
    return (
      <main className="kf-page">
        <div className="kf-customer-page">
          <Alert type="error" showIcon role="alert" title={missing ? t('customer.notFound') : t('customer.loadFailed')} description={missing ? customerId : errorText(error, t)} />
        </div>
      </main>
    );
  }
  if (!customer || loading) {
    return (
      <main className="kf-page" aria-busy="true">
        <div className="kf-customer-page">
          <Skeleton avatar active paragraph={{ rows: 6 }} />
        </div>
      </main>
    );
  }

  const missing = <Typography.Text type="secondary">{t('customer.empty')}</Typography.Text>;
  const searchLink = paths.archive(new URLSearchParams({ customer: customer.id }));

  return (
    <main className="kf-page" aria-label={customer.name}>
      <div className="kf-customer-page">
        <header className="kf-customer-hero">
          <CustomerAvatar id={customer.id} name={customer.name} size={56} />
          <div className="kf-customer-hero-name">
            <h1>{customer.name}</h1>
            <div className="kf-conv-sub">
              {customer.vipLevel > 0 ? (
                <Tag color="gold" icon={<CrownFilled />} variant="filled">
                  {t('customer.vip', { n: customer.vipLevel })}
                </Tag>
              ) : null}
              <span className="kf-conv-id">{customer.id}</span>
            </div>
          </div>
          <Button
            icon={<SearchOutlined />}
            href={searchLink}
            onClick={(e) => {
              if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
              e.preventDefault();
              navigate(searchLink);
            }}
          >
            {t('customer.searchMessages')}
          </Button>
          {mayUnmask.length > 0 ? (
            <Tooltip title={t('customer.unmaskHint', { n: mayUnmask.length })}>
              <Button className="kf-unmask" icon={shown ? <EyeInvisibleOutlined /> : <EyeOutlined />} onClick={toggleOriginal} loading={unmasking} aria-pressed={shown !== null}>
                {shown ? t('unmask.hide') : t('unmask.show')}
              </Button>
            </Tooltip>
          ) : null}
        </header>
        <div className="kf-customer-layout">
          <section className="kf-card kf-profile" aria-label={t('customer.profile')}>
            <h2 className="kf-panel-title">{t('customer.profile')}</h2>
            <Descriptions
              className="kf-customer-fields"
              column={1}
              size="small"
              colon={false}
              items={[
                { key: 'name', label: t('customer.name'), children: field('name', customer.name) },
                { key: 'id', label: t('customer.id'), children: <Typography.Text copyable={{ text: customer.id }}>{customer.id}</Typography.Text> },
                { key: 'ext', label: t('customer.externalId'), children: customer.externalId ?? missing },
                { key: 'phone', label: t('customer.phone'), children: field('phone', customer.phone) ?? missing },
                { key: 'email', label: t('customer.email'), children: field('email', customer.email) ?? missing },
                { key: 'vip', label: t('customer.vipLevel'), children: customer.vipLevel },
                { key: 'created', label: t('customer.createdAt'), children: timestamp(customer.createdAt) },
                ...Object.entries(customer.attributes).map(([k, v]) => ({ key: `attr-${k}`, label: k, children: field(`attributes.${k}`, attributeText(v)) })),
              ]}
            />
          </section>
          <section className="kf-customer-history" aria-label={t('customer.allConversations')}>
            <h2 className="kf-panel-title">
              {t('customer.allConversations')} <span className="kf-count">{conversations.length}</span>
            </h2>
            {conversations.length === 0 ? (
              <div className="kf-card">
                <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('customer.noConversations')} />
              </div>
            ) : (
              conversations.map((c, i) => <ConversationTranscript key={c.id} conversation={c} initiallyOpen={i < EXPANDED_AT_FIRST} original={shown?.texts[c.id]} />)
            )}
          </section>
        </div>
      </div>
    </main>
  );
}

type Loaded = { state: 'idle' } | { state: 'loading' } | { state: 'done'; messages: MessageView[] } | { state: 'error'; error: unknown };

/** `original`: after 显示原文, the conversation's text as written by seq */
function ConversationTranscript({ conversation: c, initiallyOpen, original }: { conversation: ConversationSummary; initiallyOpen: boolean; original?: Record<number, string> }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(initiallyOpen);
  const [loaded, setLoaded] = useState<Loaded>({ state: 'idle' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!open) return;
    let current = true;
    setLoaded((l) => (l.state === 'done' ? l : { state: 'loading' }));
    fetchMessagesAfter(c.id, 0).then(
      (messages) => current && setLoaded({ state: 'done', messages }),
      (error: unknown) => current && setLoaded({ state: 'error', error }),
    );
    return () => {
      current = false;
    };
    // lastSeq: a conversation still going on is refetched when the customer list shows it grew
  }, [open, c.id, c.lastSeq, attempt]);

  const started = c.createdAt ? timestamp(c.createdAt) : '';
  const count = loaded.state === 'done' ? loaded.messages.length : c.lastSeq;
  const channel = c.channel === 'web' || c.channel === 'email' || c.channel === 'api' ? t(`channel.${c.channel}`) : c.channel;
  const bodyId = `transcript-${c.id}`;

  return (
    <article className={`kf-card kf-transcript${open ? ' is-open' : ''}`} data-conversation-id={c.id} aria-label={t('customer.conversationLabel', { time: started })}>
      <header className="kf-transcript-head">
        <button type="button" className="kf-transcript-toggle" aria-expanded={open} aria-controls={bodyId} onClick={() => setOpen((v) => !v)} title={open ? t('customer.collapse') : t('customer.expand')}>
          {open ? <DownOutlined /> : <RightOutlined />}
          <time dateTime={c.createdAt ?? undefined}>{started}</time>
        </button>
        <StateTag state={c.state} />
        <Tag icon={<GlobalOutlined />} variant="filled" style={{ marginInlineEnd: 0 }}>
          {channel}
        </Tag>
        {c.externalId ? <span className="kf-hit-ext">#{c.externalId}</span> : null}
        <span className="kf-hint">{t('customer.messageCount', { n: count })}</span>
        {c.resolvedAt ? <span className="kf-hint">{t('customer.resolvedAt', { time: timestamp(c.resolvedAt) })}</span> : null}
        <span className="kf-spacer" />
        <Link to={paths.conversation(c.id)} className="kf-open-link">
          <ExportOutlined /> {t('customer.openInConsole')}
        </Link>
      </header>
      {open ? (
        <div id={bodyId} className="kf-transcript-body">
          {loaded.state === 'error' ? (
            <Alert
              type="error"
              showIcon
              title={t('customer.messagesFailed')}
              description={errorText(loaded.error, t)}
              action={
                <Button size="small" onClick={() => setAttempt((n) => n + 1)}>
                  {t('archive.retry')}
                </Button>
              }
            />
          ) : loaded.state !== 'done' ? (
            <div className="kf-transcript-loading">
              <Spin size="small" />
            </div>
          ) : loaded.messages.length === 0 ? (
            <span className="kf-hint">{t('customer.noMessages')}</span>
          ) : (
            <ol className="kf-lines">
              {loaded.messages.map((m) => (
                <MessageLine key={m.messageId} message={m} original={original?.[m.seq]} />
              ))}
            </ol>
          )}
        </div>
      ) : null}
    </article>
  );
}

function MessageLine({ message: m, original }: { message: MessageView; original?: string }) {
  const { t } = useI18n();
  const asWritten = original !== undefined && original !== m.text;
  return (
    <li className={`kf-line is-${m.sender.kind}`} data-seq={m.seq} data-type={m.type}>
      <Link to={paths.conversation(m.conversationId, m.seq)} className="kf-line-time" title={t('archive.openHit')}>
        <time dateTime={m.createdAt}>{timestamp(m.createdAt)}</time>
      </Link>
      <SenderTag kind={m.sender.kind} />
      <div className="kf-line-body">
        {isMediaType(m.type) ? (
          <span className="kf-media-placeholder">
            <Tag variant="outlined" className="kf-type-tag" data-type={m.type}>
              {t(`type.${m.type}`)}
            </Tag>
            {m.text ? <span className="kf-media-name">{m.text}</span> : null}
          </span>
        ) : m.type === 'text' ? (
          asWritten ? (
            <UnmaskedValue>{original}</UnmaskedValue>
          ) : (
            m.text
          )
        ) : (
          <span className="kf-hint">
            [{m.type}] {m.text}
          </span>
        )}
      </div>
    </li>
  );
}
