import { Alert, Badge, Button, Empty, Input, Segmented, Skeleton, type InputRef } from 'antd';
import { SearchOutlined } from '@ant-design/icons';
import { useEffect, type Ref } from 'react';
import type { ConversationSummary } from '../api.ts';
import { errorText } from '../errors.ts';
import { messageText, shortTime } from '../format.ts';
import { useI18n, type Translate } from '../i18n.ts';
import { CustomerAvatar } from './CustomerAvatar.tsx';

export type InboxView = 'all' | 'mine' | 'unassigned';

export function matchesView(c: ConversationSummary, view: InboxView, meId: string): boolean {
  if (view === 'mine') return c.assigneeId === meId;
  if (view === 'unassigned') return c.assigneeId === null;
  return true;
}

export function matchesQuery(c: ConversationSummary, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [c.customerName, c.lastMessage?.text, c.externalId].some((s) => s?.toLowerCase().includes(q));
}

function preview(c: ConversationSummary, t: Translate): string {
  const m = c.lastMessage;
  if (!m) return t('inbox.noMessages');
  const prefix = m.senderKind === 'customer' ? '' : t(`preview.${m.senderKind}`);
  return prefix + messageText(m, t).replace(/\s+/g, ' ');
}

const optionId = (id: string) => `inbox-${id}`;

interface Props {
  items: ConversationSummary[];
  counts: Record<InboxView, number>;
  loading: boolean;
  error: unknown;
  selectedId: string | null;
  query: string;
  view: InboxView;
  searchRef: Ref<InputRef>;
  onSelect(id: string): void;
  onQuery(q: string): void;
  onView(v: InboxView): void;
  onRetry(): void;
}

export function InboxPanel({ items, counts, loading, error, selectedId, query, view, searchRef, onSelect, onQuery, onView, onRetry }: Props) {
  const { t, lang } = useI18n();
  const isMac = /Mac|iPhone|iPad/.test(navigator.platform);

  // keyboard navigation moves the selection out of view; keep it visible
  useEffect(() => {
    if (!selectedId) return;
    document.getElementById(optionId(selectedId))?.scrollIntoView({ block: 'nearest' });
  }, [selectedId]);

  const label = (key: 'inbox.all' | 'inbox.mine' | 'inbox.unassigned', n: number) => (
    <span>
      {t(key)} <span className="kf-count">{n}</span>
    </span>
  );

  return (
    <section className="kf-inbox" aria-label={t('inbox.title')}>
      <div className="kf-inbox-head">
        <div className="kf-inbox-title">
          <h2>{t('inbox.title')}</h2>
          <span className="kf-hint">{t('inbox.keys')}</span>
        </div>
        <Input
          ref={searchRef}
          allowClear
          value={query}
          onChange={(e) => onQuery(e.target.value)}
          prefix={<SearchOutlined style={{ color: '#94a3b8' }} />}
          suffix={query ? undefined : <kbd className="kf-kbd">{isMac ? '⌘K' : 'Ctrl K'}</kbd>}
          placeholder={t('inbox.search')}
          aria-label={t('inbox.search')}
        />
        <Segmented<InboxView>
          block
          size="small"
          value={view}
          onChange={onView}
          options={[
            { value: 'all', label: label('inbox.all', counts.all) },
            { value: 'mine', label: label('inbox.mine', counts.mine) },
            { value: 'unassigned', label: label('inbox.unassigned', counts.unassigned) },
          ]}
        />
      </div>
      {error ? (
        <Alert
          className="kf-inbox-error"
          type="error"
          showIcon
          title={t('inbox.loadFailed')}
          description={errorText(error, t)}
          action={
            <Button size="small" onClick={onRetry}>
              {t('inbox.retry')}
            </Button>
          }
        />
      ) : null}
      {loading && items.length === 0 ? (
        <div className="kf-inbox-loading">
          <Skeleton avatar active paragraph={{ rows: 1 }} />
          <Skeleton avatar active paragraph={{ rows: 1 }} />
          <Skeleton avatar active paragraph={{ rows: 1 }} />
        </div>
      ) : items.length === 0 ? (
        <div className="kf-inbox-empty">
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={counts.all === 0 ? t('inbox.empty') : t('inbox.noMatch')}>
            {counts.all === 0 ? <span className="kf-hint">{t('inbox.emptyHint')}</span> : null}
          </Empty>
        </div>
      ) : (
        <ul className="kf-inbox-list" role="listbox" aria-label={t('inbox.listLabel')} aria-activedescendant={selectedId ? optionId(selectedId) : undefined}>
          {items.map((c) => {
            const unread = c.id === selectedId ? 0 : (c.unread ?? 0);
            const name = c.customerName ?? c.customerId;
            return (
              <li
                key={c.id}
                id={optionId(c.id)}
                role="option"
                aria-selected={c.id === selectedId}
                data-conversation-id={c.id}
                data-unread={unread}
                className={`kf-inbox-item${c.id === selectedId ? ' is-selected' : ''}${unread ? ' is-unread' : ''}`}
                onClick={() => onSelect(c.id)}
              >
                <CustomerAvatar id={c.customerId} name={name} size={40} />
                <div className="kf-inbox-item-body">
                  <div className="kf-inbox-item-top">
                    <span className="kf-inbox-name">{name}</span>
                    <time className="kf-inbox-time" dateTime={c.lastMessageAt ?? undefined}>
                      {shortTime(c.lastMessage?.createdAt ?? c.lastMessageAt, lang, t)}
                    </time>
                  </div>
                  <div className="kf-inbox-item-bottom">
                    <span className="kf-inbox-preview">{preview(c, t)}</span>
                    {unread > 0 ? <Badge count={unread} overflowCount={99} title={t('inbox.unreadCount', { n: unread })} /> : null}
                  </div>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
