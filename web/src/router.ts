import { createElement, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/**
 * A few routes on the History API; the console needs no more than that. The server answers every
 * non-API path with index.html, so any of these addresses can be reloaded or shared.
 *
 *   /                              the inbox
 *   /conversations/:id[?seq=N]     the inbox with a conversation open, scrolled to message N
 *   /archive[?q=…&from=…]          chat history search
 *   /customers                     customer lookup
 *   /customers/:id                 a customer's profile and whole history
 *   /grants[?kind=…&ids=…&unmask=1] access requests (申请-审批); the query pre-fills a new request
 *   /audit                         the audit trail (auditors and admins)
 *   /org                           departments, groups and members (admins change them; supervisors read)
 */

export type Route =
  | { name: 'inbox'; conversationId: string | null; seq: number | null }
  | { name: 'archive'; params: URLSearchParams }
  | { name: 'customers' }
  | { name: 'customer'; id: string }
  | { name: 'grants'; params: URLSearchParams }
  | { name: 'audit' }
  | { name: 'org' };

const NAVIGATE_EVENT = 'kefu:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE_EVENT, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

/** The current path and query string; re-renders on navigate() and on Back/Forward. */
export function useLocationKey(): string {
  return useSyncExternalStore(subscribe, snapshot);
}

/** Goes to an address inside the console. replace keeps Back from walking through every step (e.g. each inbox conversation). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

export function parseRoute(locationKey: string): Route {
  const url = new URL(locationKey, 'http://console.invalid');
  const parts = url.pathname.split('/').filter(Boolean).map(decode);
  if (parts[0] === 'archive' && parts.length === 1) return { name: 'archive', params: url.searchParams };
  if (parts[0] === 'customers' && parts.length === 1) return { name: 'customers' };
  if (parts[0] === 'grants' && parts.length === 1) return { name: 'grants', params: url.searchParams };
  if (parts[0] === 'audit' && parts.length === 1) return { name: 'audit' };
  if (parts[0] === 'org' && parts.length === 1) return { name: 'org' };
  if (parts[0] === 'customers' && parts.length === 2) return { name: 'customer', id: parts[1]! };
  if (parts[0] === 'conversations' && parts.length === 2) {
    const seq = Number(url.searchParams.get('seq'));
    return { name: 'inbox', conversationId: parts[1]!, seq: Number.isInteger(seq) && seq > 0 ? seq : null };
  }
  return { name: 'inbox', conversationId: null, seq: null };
}

export const paths = {
  conversation: (id: string, seq?: number) => `/conversations/${encodeURIComponent(id)}${seq ? `?seq=${seq}` : ''}`,
  customer: (id: string) => `/customers/${encodeURIComponent(id)}`,
  archive: (params?: URLSearchParams) => {
    const qs = params?.toString();
    return qs ? `/archive?${qs}` : '/archive';
  },
  /** the access requests page, optionally with a new request pre-filled (e.g. for a conversation one may not read) */
  grants: (prefill?: ({ kind: 'conversations'; ids: string[] } | { kind: 'customer'; id: string }) & { unmask?: boolean }) => {
    if (!prefill) return '/grants';
    const qs = new URLSearchParams(prefill.kind === 'customer' ? { kind: 'customer', customer: prefill.id } : { kind: 'conversations', ids: prefill.ids.join(',') });
    if (prefill.unmask) qs.set('unmask', '1');
    return `/grants?${qs}`;
  },
};

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; replace?: boolean };

/** An ordinary link (middle click and "open in new tab" work) that navigates inside the page on a plain click. */
export function Link({ to, replace, onClick, ...rest }: LinkProps) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    // a link inside a clickable card must not also trigger the card
    e.stopPropagation();
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || rest.target === '_blank') return;
    e.preventDefault();
    navigate(to, { replace });
  };
  return createElement('a', { ...rest, href: to, onClick: click });
}
