import { Button, Tooltip } from 'antd';
import { GlobalOutlined } from '@ant-design/icons';
import { useI18n } from '../i18n.ts';

/** Labelled with the language it switches to, written in that language, so a reader of either can find it. */
export function LanguageSwitch({ type = 'text' }: { type?: 'text' | 'default' }) {
  const { lang, setLang, t } = useI18n();
  return (
    <Tooltip title={t('lang.switch')}>
      <Button type={type} icon={<GlobalOutlined />} onClick={() => setLang(lang === 'zh-CN' ? 'en' : 'zh-CN')}>
        {t('lang.other')}
      </Button>
    </Tooltip>
  );
}
