import { Button, Input } from 'antd';
import { RightOutlined, SearchOutlined } from '@ant-design/icons';
import { useMemo, useState, type KeyboardEvent } from 'react';
import type { ConversationSummary } from '../api.ts';
import { CustomerAvatar } from '../components/CustomerAvatar.tsx';
import { useI18n } from '../i18n.ts';
import { recentCustomers, type RecentCustomer } from '../recent.ts';
import { Link, navigate, paths } from '../router.ts';

function CustomerList({ items, label }: { items: RecentCustomer[]; label: string }) {
  const { t } = useI18n();
  return (
    <section className="kf-card" aria-label={label}>
      <h2 className="kf-panel-title">
        {label} <span className="kf-count">{items.length}</span>
      </h2>
      {items.length === 0 ? (
        <span className="kf-hint">{t('customers.none')}</span>
      ) : (
        <ul className="kf-customer-list">
          {items.map((c) => (
            <li key={c.id}>
              <Link to={paths.customer(c.id)} className="kf-customer-link">
                <CustomerAvatar id={c.id} name={c.name} size={32} />
                <span className="kf-customer-link-name">{c.name}</span>
                <span className="kf-customer-link-id">{c.id}</span>
                <RightOutlined className="kf-hint" />
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The customer section: open a customer by ID, or from those seen lately and those in open conversations. */
export function CustomersPage({ inbox }: { inbox: ConversationSummary[] }) {
  const { t } = useI18n();
  const [id, setId] = useState('');
  const recent = useMemo(() => recentCustomers(), []);
  const active = useMemo(() => {
    const seen = new Map<string, RecentCustomer>();
    for (const c of inbox) if (!seen.has(c.customerId)) seen.set(c.customerId, { id: c.customerId, name: c.customerName ?? c.customerId });
    return [...seen.values()];
  }, [inbox]);

  const open = () => {
    if (id.trim()) navigate(paths.customer(id.trim()));
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter' && !e.nativeEvent.isComposing && e.keyCode !== 229) open();
  };

  return (
    <main className="kf-page" aria-label={t('customers.title')}>
      <div className="kf-customers">
        <header className="kf-page-head">
          <h1>{t('customers.title')}</h1>
        </header>
        <section className="kf-card">
          <h2 className="kf-panel-title">{t('customers.lookup')}</h2>
          <div className="kf-archive-query">
            <Input allowClear value={id} onChange={(e) => setId(e.target.value)} onKeyDown={onKeyDown} placeholder={t('customers.lookupPlaceholder')} aria-label={t('customers.lookup')} />
            <Button type="primary" onClick={open} disabled={!id.trim()}>
              {t('customers.open')}
            </Button>
          </div>
          <p className="kf-hint kf-customers-hint">
            <SearchOutlined /> {t('customers.searchHint')} <Link to="/archive">{t('customers.goSearch')}</Link>
          </p>
        </section>
        <div className="kf-customers-grid">
          <CustomerList items={recent} label={t('customers.recent')} />
          <CustomerList items={active} label={t('customers.active')} />
        </div>
      </div>
    </main>
  );
}
