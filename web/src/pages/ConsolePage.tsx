import type { InputRef } from 'antd';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { User } from '../api.ts';
import { AppHeader } from '../components/AppHeader.tsx';
import { ConversationView } from '../components/ConversationView.tsx';
import { CustomerPanel } from '../components/CustomerPanel.tsx';
import { InboxPanel, matchesQuery, matchesView, type InboxView } from '../components/InboxPanel.tsx';
import { NavRail, type Section } from '../components/NavRail.tsx';
import { errorText } from '../errors.ts';
import { useConversation } from '../hooks/useConversation.ts';
import { useInbox } from '../hooks/useInbox.ts';
import { useI18n } from '../i18n.ts';
import { useAgentSocket, useLatest, useTypingNotifier } from '../realtime.ts';
import { navigate, parseRoute, paths, useLocationKey } from '../router.ts';
import { ArchivePage } from './ArchivePage.tsx';
import { CustomerPage } from './CustomerPage.tsx';
import { CustomersPage } from './CustomersPage.tsx';
import { GrantsPage } from './GrantsPage.tsx';
import { AuditPage } from './AuditPage.tsx';
import { OrgPage } from './OrgPage.tsx';

const CONVERSATION_ROUTE = /^\/conversations\//;

interface Props {
  user: User;
  onLogout(): void;
  onSessionExpired(): void;
}

export function ConsolePage({ user, onLogout, onSessionExpired }: Props) {
  const { t } = useI18n();
  const { socket, status, connectCount } = useAgentSocket(onSessionExpired);
  const locationKey = useLocationKey();
  const route = useMemo(() => parseRoute(locationKey), [locationKey]);
  const section: Section = route.name === 'inbox' ? 'inbox' : route.name === 'archive' ? 'archive' : route.name === 'grants' ? 'grants' : route.name === 'audit' ? 'audit' : route.name === 'org' ? 'org' : 'customers';
  const openId = route.name === 'inbox' ? route.conversationId : null;
  const focusSeq = route.name === 'inbox' ? route.seq : null;
  // where each section was left, so the rail brings the agent back to the same conversation or search
  const lastPath = useRef<Record<Section, string>>({ inbox: '/', archive: '/archive', customers: '/customers', grants: '/grants', audit: '/audit', org: '/org' });
  lastPath.current[section] = locationKey;
  const [query, setQuery] = useState('');
  const [view, setView] = useState<InboxView>('all');
  const searchRef = useRef<InputRef>(null);

  const inbox = useInbox({ socket, connectCount, me: user, openId });
  const describeError = useCallback((err: unknown) => errorText(err, t), [t]);
  const open = useConversation({ socket, connectCount, me: user, conversationId: openId, describeError });
  const typing = useTypingNotifier(socket, openId);

  const visible = useMemo(() => inbox.items.filter((c) => matchesView(c, view, user.id) && matchesQuery(c, query)), [inbox.items, view, user.id, query]);
  const counts = useMemo(
    () => ({
      all: inbox.items.length,
      mine: inbox.items.filter((c) => matchesView(c, 'mine', user.id)).length,
      unassigned: inbox.items.filter((c) => matchesView(c, 'unassigned', user.id)).length,
    }),
    [inbox.items, user.id],
  );
  const totalUnread = inbox.items.reduce((n, c) => n + (c.id === openId ? 0 : (c.unread ?? 0)), 0);

  const { markOpened, remove } = inbox;
  useEffect(() => {
    if (openId) markOpened(openId);
  }, [openId, markOpened]);
  const select = useCallback((id: string) => {
    // replace, not push: a reload reopens the conversation, but Back does not walk through every one visited
    navigate(paths.conversation(id), { replace: CONVERSATION_ROUTE.test(window.location.pathname) || window.location.pathname === '/' });
  }, []);
  const goTo = useCallback((to: Section) => navigate(to === section ? (to === 'inbox' ? lastPath.current.inbox : `/${to}`) : lastPath.current[to]), [section]);

  useEffect(() => {
    document.title = totalUnread > 0 ? `(${totalUnread}) ${t('app.name')}` : t('app.name');
  }, [totalUnread, t]);

  const keyboard = useLatest({ visible, openId, select, section });
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // the other pages have keys of their own
      if (keyboard.current.section !== 'inbox') return;
      if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
        const { visible: list, openId: current, select: go } = keyboard.current;
        if (list.length === 0) return;
        e.preventDefault();
        const at = list.findIndex((c) => c.id === current);
        const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + (e.key === 'ArrowDown' ? 1 : -1)));
        if (list[next]!.id !== current) go(list[next]!.id);
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        searchRef.current?.focus({ cursor: 'all' });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [keyboard]);

  const customerId = open.conversation?.customerId ?? null;

  return (
    <div className="kf-shell">
      <NavRail unread={totalUnread} active={section} role={user.role} onNavigate={goTo} />
      <div className="kf-main">
        <AppHeader user={user} status={status} onLogout={onLogout} />
        {route.name === 'archive' ? (
          <ArchivePage params={route.params} />
        ) : route.name === 'audit' ? (
          <AuditPage />
        ) : route.name === 'org' ? (
          <OrgPage />
        ) : route.name === 'grants' ? (
          <GrantsPage user={user} params={route.params} />
        ) : route.name === 'customer' ? (
          <CustomerPage customerId={route.id} />
        ) : route.name === 'customers' ? (
          <CustomersPage inbox={inbox.items} />
        ) : (
          <div className="kf-workspace">
            <InboxPanel
              items={visible}
              counts={counts}
              loading={inbox.loading}
              error={inbox.error}
              selectedId={openId}
              query={query}
              view={view}
              searchRef={searchRef}
              onSelect={select}
              onQuery={setQuery}
              onView={setView}
              onRetry={inbox.reload}
            />
            <ConversationView open={open} focusSeq={focusSeq} onTyping={typing.typed} onStopTyping={typing.stopped} onResolved={remove} />
            <CustomerPanel customerId={customerId} conversationId={openId} refreshKey={`${openId}:${open.conversation?.state ?? ''}`} onOpenConversation={select} original={open.originalCustomer} />
          </div>
        )}
      </div>
    </div>
  );
}
