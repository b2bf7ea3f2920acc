import { Badge, Tooltip } from 'antd';
import { BarChartOutlined, BookOutlined, HistoryOutlined, MessageOutlined, SettingOutlined, TeamOutlined } from '@ant-design/icons';
import type { ReactNode } from 'react';
import { useI18n, type MessageKey } from '../i18n.ts';

interface Item {
  key: MessageKey;
  icon: ReactNode;
  ready: boolean;
}

// the modules of the architecture, in the order an agent reaches for them; only the inbox exists so far
const ITEMS: Item[] = [
  { key: 'nav.inbox', icon: <MessageOutlined />, ready: true },
  { key: 'nav.customers', icon: <TeamOutlined />, ready: false },
  { key: 'nav.knowledge', icon: <BookOutlined />, ready: false },
  { key: 'nav.archive', icon: <HistoryOutlined />, ready: false },
  { key: 'nav.reports', icon: <BarChartOutlined />, ready: false },
];

export function NavRail({ unread }: { unread: number }) {
  const { t } = useI18n();
  return (
    <nav className="kf-rail" aria-label="kefu">
      <div className="kf-rail-logo" aria-hidden>
        <svg viewBox="0 0 32 32" width="22" height="22">
          <path d="M7 8h18a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-9l-6 5v-5H7a2 2 0 0 1-2-2V10a2 2 0 0 1 2-2z" fill="currentColor" />
        </svg>
      </div>
      <ul className="kf-rail-items">
        {ITEMS.map((item) => {
          const name = t(item.key);
          return (
            <li key={item.key}>
              <Tooltip title={item.ready ? name : t('nav.soon', { name })} placement="right">
                <button type="button" className={`kf-rail-item${item.key === 'nav.inbox' ? ' is-active' : ''}`} aria-label={name} aria-current={item.key === 'nav.inbox' ? 'page' : undefined} disabled={!item.ready}>
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
