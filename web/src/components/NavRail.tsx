import { Badge, Tooltip } from 'antd';
import { ApartmentOutlined, AuditOutlined, BarChartOutlined, BookOutlined, HistoryOutlined, MessageOutlined, SafetyCertificateOutlined, SettingOutlined, TeamOutlined } from '@ant-design/icons';
import type { ReactNode } from 'react';
import type { Role } from '../api.ts';
import { useI18n, type MessageKey } from '../i18n.ts';

export type Section = 'inbox' | 'customers' | 'archive' | 'grants' | 'audit' | 'org';

interface Item {
  key: MessageKey;
  icon: ReactNode;
  /** the page it opens; none yet for modules still to come */
  section?: Section;
  /** shown only to these roles; the server refuses the others anyway */
  roles?: readonly Role[];
}

// the modules of the architecture, in the order an agent reaches for them
const ITEMS: Item[] = [
  { key: 'nav.inbox', icon: <MessageOutlined />, section: 'inbox' },
  { key: 'nav.customers', icon: <TeamOutlined />, section: 'customers' },
  { key: 'nav.knowledge', icon: <BookOutlined /> },
  { key: 'nav.archive', icon: <HistoryOutlined />, section: 'archive' },
  { key: 'nav.grants', icon: <SafetyCertificateOutlined />, section: 'grants' },
  { key: 'nav.audit', icon: <AuditOutlined />, section: 'audit' },
  { key: 'nav.org', icon: <ApartmentOutlined />, section: 'org', roles: ['admin', 'supervisor'] },
  { key: 'nav.reports', icon: <BarChartOutlined /> },
];

export function NavRail({ unread, active, role, onNavigate }: { unread: number; active: Section; role: Role; onNavigate(section: Section): void }) {
  const { t } = useI18n();
  return (
    <nav className="kf-rail" aria-label="kefu">
      <div className="kf-rail-logo" aria-hidden>
        <svg viewBox="0 0 32 32" width="22" height="22">
          <path d="M7 8h18a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-9l-6 5v-5H7a2 2 0 0 1-2-2V10a2 2 0 0 1 2-2z" fill="currentColor" />
        </svg>
      </div>
      <ul className="kf-rail-items">
        {ITEMS.filter((item) => !item.roles || item.roles.includes(role)).map((item) => {
          const name = t(item.key);
          const isActive = item.section !== undefined && item.section === active;
          const section = item.section;
          return (
            <li key={item.key}>
              <Tooltip title={section ? name : t('nav.soon', { name })} placement="right">
                <button
                  type="button"
                  className={`kf-rail-item${isActive ? ' is-active' : ''}`}
                  aria-label={name}
                  aria-current={isActive ? 'page' : undefined}
                  disabled={!section}
                  onClick={section ? () => onNavigate(section) : undefined}
                >
                  {item.key === 'nav.inbox' ? (
                    <Badge count={unread} size="small" offset={[4, -2]}>
                      <span className="kf-rail-icon">{item.icon}</span>
                    </Badge>
                  ) : (
                    <span className="kf-rail-icon">{item.icon}</span>
                  )}
                </button>
              </Tooltip>
            </li>
          );
        })}
      </ul>
      <div className="kf-rail-bottom">
        <Tooltip title={t('nav.soon', { name: t('nav.settings') })} placement="right">
          <button type="button" className="kf-rail-item" aria-label={t('nav.settings')} disabled>
            <span className="kf-rail-icon">
              <SettingOutlined />
            </span>
          </button>
        </Tooltip>
      </div>
    </nav>
  );
}
