import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type SearchHit, type SearchQuery, type SearchResult } from '../api.ts';

/** What the archive page searches for: the query string of /archive, one field per filter. */
export interface ArchiveFilters {
  q: string;
  from: string;
  to: string;
  customer: string;
  agent: string;
  group: string;
  channel: string;
  tag: string;
  sort: 'time' | 'relevance';
}

const FILTER_KEYS = ['customer', 'agent', 'group', 'channel', 'tag'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export { FILTER_KEYS };

export const EMPTY_FILTERS: ArchiveFilters = { q: '', from: '', to: '', customer: '', agent: '', group: '', channel: '', tag: '', sort: 'time' };

export function filtersFromParams(p: URLSearchParams): ArchiveFilters {
  const get = (k: string) => (p.get(k) ?? '').trim();
  return {
    q: p.get('q') ?? '',
    from: get('from'),
    to: get('to'),
    customer: get('customer'),
    agent: get('agent'),
    group: get('group'),
    channel: get('channel'),
    tag: get('tag'),
    sort: p.get('sort') === 'relevance' ? 'relevance' : 'time',
  };
}

/** The canonical query string: fixed order, empty values and the default sort left out, so equal searches have equal addresses. */
export function paramsFromFilters(f: ArchiveFilters): URLSearchParams {
  const p = new URLSearchParams();
  const q = f.q.trim();
  if (q) p.set('q', q);
  if (f.from) p.set('from', f.from);
  if (f.to) p.set('to', f.to);
  for (const k of FILTER_KEYS) if (f[k].trim()) p.set(k, f[k].trim());
  if (f.sort !== 'time') p.set('sort', f.sort);
  return p;
}

export const activeFilterCount = (f: ArchiveFilters) => FILTER_KEYS.filter((k) => f[k].trim()).length;

/** The server lists messages by time when there is no query but a filter; with neither there is nothing to ask. */
export const isSearchable = (f: ArchiveFilters) => f.q.trim() !== '' || f.from !== '' || f.to !== '' || activeFilterCount(f) > 0;

function toQuery(f: ArchiveFilters): SearchQuery {
  const q: SearchQuery = { q: f.q.trim(), sort: f.sort };
  if (f.from) q.from = f.from;
  if (f.to) q.to = f.to;
  for (const k of FILTER_KEYS) if (f[k].trim()) q[k] = f[k].trim();
  return q;
}

export const PAGE_SIZE = 20;
/**
 * The server tests at most its work limit of matches against the filters per request, so a narrow scope can get a short
 * page that goes on; the console asks on by itself this many times before it leaves the rest to the user.
 */
export const AUTO_CONTINUE = 3;

/** One page as the user sees it: server pages joined until it is full, ends, or AUTO_CONTINUE more were asked for. */
async function fetchPage(query: SearchQuery, cursor: string | undefined, signal: AbortSignal | undefined): Promise<SearchResult> {
  let res = await api.search({ ...query, ...(cursor ? { cursor } : {}), limit: PAGE_SIZE }, signal);
  const hits = [...res.hits];
  let tookMs = res.tookMs;
  for (let round = 0; round < AUTO_CONTINUE && hits.length < PAGE_SIZE && res.searchedBackTo && res.nextCursor; round++) {
    res = await api.search({ ...query, cursor: res.nextCursor, limit: PAGE_SIZE - hits.length }, signal);
    hits.push(...res.hits);
    tookMs += res.tookMs;
  }
  // later answers carry the first one's count (in the cursor); an estimate may be below what the pages found
  return { ...res, hits, total: Math.max(res.total, hits.length), tookMs };
}

interface State {
  status: 'idle' | 'loading' | 'done' | 'error';
  hits: SearchHit[];
  total: number;
  totalIsEstimate: boolean;
  tookMs: number;
  nextCursor: string | null;
  /** the last page stopped at the server's work limit: matches after this time were searched (see SearchResult) */
  searchedBackTo: string | null;
  error: unknown;
  loadingMore: boolean;
  moreError: unknown;
}

export interface ArchiveSearch extends State {
  loadMore(): void;
  /** runs the search again from its first page */
  retry(): void;
}

const IDLE: State = { status: 'idle', hits: [], total: 0, totalIsEstimate: false, tookMs: 0, nextCursor: null, searchedBackTo: null, error: null, loadingMore: false, moreError: null };

/** Runs the search whenever `key` (the canonical query string) changes, and pages on with the server's cursor. */
export function useArchiveSearch(filters: ArchiveFilters, key: string): ArchiveSearch {
  const [state, setState] = useState<State>(IDLE);
  const [attempt, setAttempt] = useState(0);
  const inFlight = useRef<AbortController | null>(null);
  const filtersRef = useRef(filters);
  filtersRef.current = filters;

  useEffect(() => {
    const f = filtersRef.current;
    if (!isSearchable(f)) {
      setState(IDLE);
      return;
    }
    const ctrl = new AbortController();
    inFlight.current?.abort();
    inFlight.current = ctrl;
    setState({ ...IDLE, status: 'loading' });
    fetchPage(toQuery(f), undefined, ctrl.signal).then(
      (res) => {
        if (ctrl.signal.aborted) return;
        setState({ ...IDLE, status: 'done', hits: res.hits, total: res.total, totalIsEstimate: res.totalIsEstimate, tookMs: res.tookMs, nextCursor: res.nextCursor, searchedBackTo: res.searchedBackTo });
      },
      (error: unknown) => {
        if (ctrl.signal.aborted) return;
        setState({ ...IDLE, status: 'error', error });
      },
    );
    return () => ctrl.abort();
  }, [key, attempt]);

  const stateRef = useRef(state);
  stateRef.current = state;

  const loadMore = useCallback(() => {
    const s = stateRef.current;
    if (s.status !== 'done' || !s.nextCursor || s.loadingMore) return;
    const ctrl = inFlight.current;
    const cursor = s.nextCursor;
    setState((prev) => ({ ...prev, loadingMore: true, moreError: null }));
    fetchPage(toQuery(filtersRef.current), cursor, ctrl?.signal).then(
      (res) => {
        if (ctrl?.signal.aborted) return;
        setState((prev) => {
          // a page that arrives after the search changed belongs to the old one
          if (prev.nextCursor !== cursor) return prev;
          const seen = new Set(prev.hits.map((h) => h.messageId));
          const hits = [...prev.hits, ...res.hits.filter((h) => !seen.has(h.messageId))];
          return {
            ...prev,
            hits,
            // the first page's count, carried by the cursor; an estimate may be below what the pages found
            total: Math.max(res.total, hits.length),
            totalIsEstimate: res.totalIsEstimate,
            nextCursor: res.nextCursor,
            searchedBackTo: res.searchedBackTo,
            loadingMore: false,
          };
        });
      },
      (error: unknown) => {
        if (ctrl?.signal.aborted) return;
        setState((prev) => (prev.nextCursor === cursor ? { ...prev, loadingMore: false, moreError: error } : prev));
      },
    );
  }, []);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);

  return { ...state, loadMore, retry };
}
