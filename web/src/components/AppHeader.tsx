import { Avatar, Badge, Drawer, Dropdown, Flex, Typography } from 'antd';
import { DownOutlined, LogoutOutlined, SafetyOutlined } from '@ant-design/icons';
import { useState } from 'react';
import type { User } from '../api.ts';
import { useI18n } from '../i18n.ts';
import type { ConnectionStatus } from '../realtime.ts';
import { LanguageSwitch } from './LanguageSwitch.tsx';
import { SecurityPage } from '../pages/SecurityPage.tsx';

const STATUS_BADGE = { online: 'success', connecting: 'processing', reconnecting: 'warning' } as const;

export function AppHeader({ user, status, onLogout }: { user: User; status: ConnectionStatus; onLogout(): void }) {
  const { t } = useI18n();
  const [security, setSecurity] = useState(false);
  return (
    <header className="kf-header">
      <Flex align="center" gap={10}>
        <Typography.Text strong className="kf-header-title">
          {t('app.name')}
        </Typography.Text>
      </Flex>
      <Flex align="center" gap={8}>
        <span className={`kf-status is-${status}`} role="status">
          <Badge status={STATUS_BADGE[status]} text={t(`status.${status}`)} />
        </span>
        <LanguageSwitch />
        <Dropdown
          trigger={['click']}
          menu={{
            items: [
              { key: 'who', label: `${user.displayName} · ${t(`role.${user.role}`)}`, disabled: true },
              { type: 'divider' },
              { key: 'security', icon: <SafetyOutlined />, label: t('user.security'), onClick: () => setSecurity(true) },
              { key: 'logout', icon: <LogoutOutlined />, label: t('user.logout'), onClick: onLogout },
            ],
          }}
        >
          <button type="button" className="kf-user">
            <Avatar size={28} style={{ background: '#1e293b' }}>
              {[...user.displayName][0]?.toUpperCase()}
            </Avatar>
            <span className="kf-user-name">{user.displayName}</span>
            <DownOutlined style={{ fontSize: 10, color: '#94a3b8' }} />
          </button>
        </Dropdown>
      </Flex>
      <Drawer title={t('security.title')} open={security} onClose={() => setSecurity(false)} size={560} destroyOnHidden>
        <SecurityPage user={user} />
      </Drawer>
    </header>
  );
}
