import { Tag } from 'antd';
import type { ConversationState } from '../api.ts';
import { useI18n } from '../i18n.ts';

const COLOURS: Record<ConversationState, string> = { bot: 'purple', queued: 'orange', assigned: 'blue', resolved: 'green', closed: 'default' };

export function StateTag({ state }: { state: ConversationState }) {
  const { t } = useI18n();
  return (
    <Tag color={COLOURS[state]} variant="filled" style={{ marginInlineEnd: 0 }}>
      {t(`state.${state}`)}
    </Tag>
  );
}
