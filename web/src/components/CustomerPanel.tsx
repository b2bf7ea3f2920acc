import { Alert, Descriptions, Skeleton, Tag, Typography } from 'antd';
import { CrownFilled, RightOutlined } from '@ant-design/icons';
import type { CustomerOriginal } from '../api.ts';
import { errorText } from '../errors.ts';
import { attributeText, fullDateTime } from '../format.ts';
import { useCustomer } from '../hooks/useCustomer.ts';
import { useI18n } from '../i18n.ts';
import { Link, paths } from '../router.ts';
import { CustomerAvatar } from './CustomerAvatar.tsx';
import { StateTag } from './StateTag.tsx';
import { UnmaskedValue } from './UnmaskedValue.tsx';

interface Props {
  customerId: string | null;
  conversationId: string | null;
  /** changes whenever the open conversation changes in a way the customer's conversation list shows */
  refreshKey: string;
  onOpenConversation(id: string): void;
  /** after 显示原文 in the open conversation: the customer's contact details as written */
  original?: CustomerOriginal | null;
}

export function CustomerPanel({ customerId, conversationId, refreshKey, onOpenConversation, original = null }: Props) {
  const { t, lang } = useI18n();
  const { customer: masked, conversations, loading, error } = useCustomer(customerId, refreshKey);
  const unmasked = original && masked && original.id === masked.id ? original : null;
  const customer = masked && unmasked ? { ...masked, name: unmasked.name, phone: unmasked.phone, email: unmasked.email, attributes: unmasked.attributes } : masked;
  /** a field shown as written carries the same note as an unmasked message */
  const field = (f: CustomerOriginal['pii'][number], value: string | null) => (value === null ? null : unmasked?.pii.includes(f) ? <UnmaskedValue>{value}</UnmaskedValue> : value);

  if (!customerId) return <aside className="kf-customer" aria-label={t('customer.title')} />;

  const missing = <Typography.Text type="secondary">{t('customer.empty')}</Typography.Text>;

  return (
    <aside className="kf-customer" aria-label={t('customer.title')}>
      <div className="kf-panel-head">
        <h2 className="kf-panel-title">{t('customer.title')}</h2>
        <Link to={paths.customer(customerId)} className="kf-panel-link">
          {t('customer.details')} <RightOutlined />
        </Link>
      </div>
      {error ? <Alert type="error" showIcon title={t('customer.loadFailed')} description={errorText(error, t)} /> : null}
      {!customer && loading ? <Skeleton avatar active paragraph={{ rows: 4 }} /> : null}
      {customer ? (
        <>
          <div className="kf-customer-card">
            <CustomerAvatar id={customer.id} name={customer.name} size={56} />
            <div className="kf-customer-name">
              <h3>{field('name', customer.name)}</h3>
              {customer.vipLevel > 0 ? (
                <Tag color="gold" icon={<CrownFilled />} variant="filled">
                  {t('customer.vip', { n: customer.vipLevel })}
                </Tag>
              ) : null}
            </div>
          </div>
          <Descriptions
            className="kf-customer-fields"
            column={1}
            size="small"
            colon={false}
            items={[
              { key: 'id', label: t('customer.id'), children: <Typography.Text copyable={{ text: customer.id }}>{customer.id}</Typography.Text> },
              ...(customer.externalId ? [{ key: 'ext', label: t('customer.externalId'), children: customer.externalId }] : []),
              { key: 'phone', label: t('customer.phone'), children: field('phone', customer.phone) ?? missing },
              { key: 'email', label: t('customer.email'), children: field('email', customer.email) ?? missing },
              { key: 'since', label: t('customer.since'), children: fullDateTime(customer.createdAt, lang) },
              ...Object.entries(customer.attributes).map(([k, v]) => ({ key: `attr-${k}`, label: k, children: field(`attributes.${k}`, attributeText(v)) })),
            ]}
          />
          <h2 className="kf-panel-title">
            {t('customer.conversations')} <span className="kf-count">{conversations.length}</span>
          </h2>
          <ul className="kf-history">
            {conversations.map((c) => (
              <li key={c.id}>
                <button type="button" className={`kf-history-item${c.id === conversationId ? ' is-current' : ''}`} onClick={() => onOpenConversation(c.id)}>
                  <span className="kf-history-date">{c.createdAt ? fullDateTime(c.createdAt, lang) : ''}</span>
                  <span className="kf-history-tags">
                    {c.id === conversationId ? <Tag color="blue">{t('customer.current')}</Tag> : null}
                    <StateTag state={c.state} />
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </aside>
  );
}
