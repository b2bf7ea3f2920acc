import { ExportButton } from '../components/ExportButton.tsx';
import { Alert, Badge, Button, DatePicker, Empty, Input, Segmented, Select, Skeleton, Tag, Tooltip, type InputRef } from 'antd';
import { FilterOutlined, ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { SearchHit } from '../api.ts';
import { CustomerAvatar } from '../components/CustomerAvatar.tsx';
import { Highlighted, SenderTag } from '../components/SenderTag.tsx';
import { errorText } from '../errors.ts';
import { fullDateTime, isMediaType, timestamp } from '../format.ts';
import {
  activeFilterCount,
  EMPTY_FILTERS,
  filtersFromParams,
  isSearchable,
  paramsFromFilters,
  useArchiveSearch,
  type ArchiveFilters,
  type FilterKey,
} from '../hooks/useArchiveSearch.ts';
import { useI18n, type Lang, type Translate } from '../i18n.ts';
import { Link, navigate, paths } from '../router.ts';

const isImeEnter = (e: KeyboardEvent<HTMLInputElement>) => e.nativeEvent.isComposing || e.keyCode === 229;

/** Date range of the URL (from inclusive, to exclusive) as the picker's days, and back. */
function pickerValue(from: string, to: string): [Dayjs | null, Dayjs | null] | null {
  const start = from ? dayjs(from) : null;
  const end = to ? dayjs(to).subtract(1, 'millisecond') : null;
  if (!start?.isValid() && !end?.isValid()) return null;
  return [start?.isValid() ? start : null, end?.isValid() ? end : null];
}

function rangeFromPicker(value: [Dayjs | null, Dayjs | null] | null): { from: string; to: string } {
  const [start, end] = value ?? [null, null];
  // local midnights with their offset: "2026-11-25T00:00:00+08:00" reads well in a shared link
  return { from: start ? start.startOf('day').format() : '', to: end ? end.add(1, 'day').startOf('day').format() : '' };
}

function presets(t: Translate) {
  const today = dayjs().startOf('day');
  const end = dayjs().endOf('day');
  return [
    { label: t('archive.today'), value: [today, end] as [Dayjs, Dayjs] },
    { label: t('archive.last7'), value: [today.subtract(6, 'day'), end] as [Dayjs, Dayjs] },
    { label: t('archive.last30'), value: [today.subtract(29, 'day'), end] as [Dayjs, Dayjs] },
    { label: t('archive.lastYear'), value: [today.subtract(1, 'year').add(1, 'day'), end] as [Dayjs, Dayjs] },
  ];
}

const CHANNELS = ['web', 'email', 'api'] as const;

export function ArchivePage({ params }: { params: URLSearchParams }) {
  const { t, lang } = useI18n();
  const applied = useMemo(() => filtersFromParams(params), [params]);
  const key = useMemo(() => paramsFromFilters(applied).toString(), [applied]);
  const search = useArchiveSearch(applied, key);
  const [draft, setDraft] = useState<ArchiveFilters>(applied);
  const [showFilters, setShowFilters] = useState(() => activeFilterCount(applied) > 0);
  const queryRef = useRef<InputRef>(null);
  const isMac = /Mac|iPhone|iPad/.test(navigator.platform);

  // Back, Forward and a pasted link change the address: the form follows it
  useEffect(() => {
    setDraft(applied);
    if (activeFilterCount(applied) > 0) setShowFilters(true);
    // applied changes with key
  }, [key]);

  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        queryRef.current?.focus({ cursor: 'all' });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    if (!applied.q) queryRef.current?.focus();
    // only when the page opens
  }, []);

  const run = (next: ArchiveFilters) => {
    const nextKey = paramsFromFilters(next).toString();
    // searching the same again is a refresh
    if (nextKey === key) search.retry();
    else navigate(paths.archive(paramsFromFilters(next)));
  };

  const update = (patch: Partial<ArchiveFilters>, now = false) => {
    const next = { ...draft, ...patch };
    setDraft(next);
    if (now) run(next);
  };

  const onEnter = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter' || isImeEnter(e)) return;
    e.preventDefault();
    run(draft);
  };

  const filterCount = activeFilterCount(draft);
  const textFilter = (k: Exclude<FilterKey, 'channel'>, label: string, placeholder: string) => (
    <label className="kf-filter">
      <span>{label}</span>
      <Input allowClear value={draft[k]} placeholder={placeholder} aria-label={label} onChange={(e) => update({ [k]: e.target.value })} onKeyDown={onEnter} />
    </label>
  );

  return (
    <main className="kf-page" aria-label={t('archive.title')}>
      <div className="kf-archive">
        <header className="kf-page-head">
          <h1>{t('archive.title')}</h1>
          <p className="kf-hint">{t('archive.subtitle')}</p>
        </header>
        <section className="kf-archive-form" role="search">
          <div className="kf-archive-query">
            <Input
              ref={queryRef}
              size="large"
              allowClear
              value={draft.q}
              maxLength={200}
              prefix={<SearchOutlined style={{ color: '#94a3b8' }} />}
              suffix={draft.q ? undefined : <kbd className="kf-kbd">{isMac ? '⌘K' : 'Ctrl K'}</kbd>}
              placeholder={t('archive.query')}
              aria-label={t('archive.queryLabel')}
              onChange={(e) => update({ q: e.target.value })}
              onKeyDown={onEnter}
            />
            <Button size="large" type="primary" icon={<SearchOutlined />} onClick={() => run(draft)}>
              {t('archive.search')}
            </Button>
          </div>
          <div className="kf-archive-bar">
            <DatePicker.RangePicker
              allowEmpty={[true, true]}
              value={pickerValue(draft.from, draft.to)}
              presets={presets(t)}
              placeholder={[t('archive.rangeStart'), t('archive.rangeEnd')]}
              aria-label={t('archive.range')}
              onChange={(v) => update(rangeFromPicker(v), true)}
            />
            <Segmented<ArchiveFilters['sort']>
              value={draft.sort}
              aria-label={t('archive.sortLabel')}
              onChange={(sort) => update({ sort }, true)}
              options={[
                { value: 'time', label: t('archive.sortTime') },
                { value: 'relevance', label: t('archive.sortRelevance') },
              ]}
            />
            <Button type={showFilters ? 'default' : 'text'} icon={<FilterOutlined />} aria-expanded={showFilters} onClick={() => setShowFilters((v) => !v)}>
              {t('archive.moreFilters')}
              {filterCount > 0 ? <Badge count={filterCount} size="small" color="#2563eb" /> : null}
            </Button>
            <span className="kf-spacer" />
            <Button type="link" onClick={() => run({ ...EMPTY_FILTERS, q: draft.q })} disabled={filterCount === 0 && !draft.from && !draft.to && draft.sort === 'time'}>
              {t('archive.reset')}
            </Button>
          </div>
          {showFilters ? (
            <div className="kf-archive-filters">
              {textFilter('customer', t('archive.filter.customer'), t('archive.filter.customerPlaceholder'))}
              {textFilter('agent', t('archive.filter.agent'), t('archive.filter.agentPlaceholder'))}
              <label className="kf-filter">
                <span>{t('archive.filter.channel')}</span>
                <Select
                  allowClear
                  value={draft.channel || undefined}
                  placeholder={t('archive.filter.channelPlaceholder')}
                  aria-label={t('archive.filter.channel')}
                  onChange={(channel?: string) => update({ channel: channel ?? '' }, true)}
                  options={CHANNELS.map((c) => ({ value: c, label: t(`channel.${c}`) }))}
                />
              </label>
              {textFilter('tag', t('archive.filter.tag'), t('archive.filter.tagPlaceholder'))}
              {textFilter('group', t('archive.filter.group'), t('archive.filter.groupPlaceholder'))}
            </div>
          ) : null}
        </section>

        {isSearchable(applied) ? (
          <div className="kf-archive-actions">
            <ExportButton filters={applied} />
          </div>
        ) : null}
        <Results search={search} searchable={isSearchable(applied)} lang={lang} />
      </div>
    </main>
  );
}

function Results({ search, searchable, lang }: { search: ReturnType<typeof useArchiveSearch>; searchable: boolean; lang: Lang }) {
  const { t } = useI18n();

  if (!searchable) {
    return (
      <div className="kf-archive-state">
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('archive.introTitle')}>
          <span className="kf-hint">{t('archive.introHint')}</span>
        </Empty>
      </div>
    );
  }
  if (search.status === 'error') {
    return (
      <Alert
        className="kf-archive-error"
        type="error"
        showIcon
        role="alert"
        title={t('archive.failed')}
        description={errorText(search.error, t)}
        action={
          <Button size="small" icon={<ReloadOutlined />} onClick={search.retry}>
            {t('archive.retry')}
          </Button>
        }
      />
    );
  }
  if (search.status === 'loading' || search.status === 'idle') {
    return (
      <div className="kf-hits is-loading" aria-busy="true">
        {[0, 1, 2, 3].map((i) => (
          <div className="kf-hit" key={i}>
            <Skeleton avatar={{ size: 28 }} active title={{ width: '30%' }} paragraph={{ rows: 2 }} />
          </div>
        ))}
      </div>
    );
  }
  if (search.hits.length === 0 && search.searchedBackTo && search.nextCursor) {
    // the newest matches were tested and none is in the viewer's scope or filters: the older ones are still to search
    return (
      <div className="kf-archive-state" data-empty="partial">
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('archive.noneSince', { time: fullDateTime(search.searchedBackTo, lang) })}>
          <span className="kf-hint">{t('archive.workLimitHint')}</span>
          <div>
            <Button type="primary" onClick={search.loadMore} loading={search.loadingMore} className="kf-search-older">
              {t('archive.searchOlder')}
            </Button>
          </div>
        </Empty>
      </div>
    );
  }
  if (search.hits.length === 0) {
    return (
      <div className="kf-archive-state" data-empty="true">
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('archive.emptyTitle')}>
          <span className="kf-hint">{t('archive.emptyHint')}</span>
        </Empty>
      </div>
    );
  }
  const n = search.total.toLocaleString(lang);
  return (
    <>
      <div className="kf-archive-summary" role="status">
        <span className="kf-archive-total">{search.totalIsEstimate ? t('archive.totalEstimate', { n }) : t('archive.total', { n })}</span>
        <span className="kf-hint">{t('archive.took', { ms: Math.round(search.tookMs) })}</span>
      </div>
      <ul className="kf-hits" aria-label={t('archive.hitsLabel')}>
        {search.hits.map((hit) => (
          <HitItem key={hit.messageId} hit={hit} />
        ))}
      </ul>
      <div className="kf-archive-more">
        {search.moreError ? (
          <Alert
            type="error"
            showIcon
            title={errorText(search.moreError, t)}
            action={
              <Button size="small" onClick={search.loadMore}>
                {t('archive.retry')}
              </Button>
            }
          />
        ) : search.nextCursor && search.searchedBackTo ? (
          <>
            <span className="kf-hint kf-searched-back-to">{t('archive.searchedSince', { time: fullDateTime(search.searchedBackTo, lang) })}</span>
            <Button onClick={search.loadMore} loading={search.loadingMore} block className="kf-search-older">
              {t('archive.searchOlder')}
            </Button>
          </>
        ) : search.nextCursor ? (
          <Button onClick={search.loadMore} loading={search.loadingMore} block>
            {t('archive.loadMore')}
          </Button>
        ) : search.searchedBackTo ? (
          <span className="kf-hint kf-searched-back-to">{t('archive.rankedSince', { time: fullDateTime(search.searchedBackTo, lang) })}</span>
        ) : (
          <span className="kf-hint">{t('archive.end')}</span>
        )}
      </div>
    </>
  );
}

function HitItem({ hit }: { hit: SearchHit }) {
  const { t } = useI18n();
  const to = paths.conversation(hit.conversationId, hit.seq);
  let body: ReactNode = <Highlighted text={hit.snippet} ranges={hit.highlights} />;
  if (isMediaType(hit.type) && !hit.snippet) body = <span className="kf-hint">[{t(`type.${hit.type}`)}]</span>;
  return (
    <li className="kf-hit" data-conversation-id={hit.conversationId} data-seq={hit.seq} onClick={() => navigate(to)}>
      <div className="kf-hit-head">
        <CustomerAvatar id={hit.customerId} name={hit.customerName} size={28} />
        <Link to={paths.customer(hit.customerId)} className="kf-hit-customer" title={t('customer.details')}>
          {hit.customerName}
        </Link>
        <SenderTag kind={hit.sender.kind} />
        {isMediaType(hit.type) ? (
          <Tag variant="outlined" className="kf-type-tag">
            {t(`type.${hit.type}`)}
          </Tag>
        ) : null}
        {hit.externalId ? (
          <Tooltip title={t('archive.conversation', { id: hit.conversationId })}>
            <span className="kf-hit-ext">#{hit.externalId}</span>
          </Tooltip>
        ) : null}
        <span className="kf-spacer" />
        <time className="kf-hit-time" dateTime={hit.createdAt}>
          {timestamp(hit.createdAt)}
        </time>
      </div>
      <Link to={to} className="kf-hit-snippet" title={t('archive.openHit')}>
        {body}
      </Link>
    </li>
  );
}
