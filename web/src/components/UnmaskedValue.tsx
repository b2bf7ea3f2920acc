import { Tag, Tooltip } from 'antd';
import type { ReactNode } from 'react';
import { useI18n } from '../i18n.ts';

/** A value shown as written through 显示原文: it carries the same note as an unmasked message. */
export function UnmaskedValue({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  return (
    <span className="kf-unmasked-field">
      {children}{' '}
      <Tooltip title={t('unmask.shownHint')}>
        <Tag color="orange" variant="filled" className="kf-pii-warning is-unmasked">
          {t('unmask.shown')}
        </Tag>
      </Tooltip>
    </span>
  );
}
