import { App as AntApp, ConfigProvider } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { StrictMode, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { I18nProvider, useI18n } from './i18n.ts';
import './styles.css';

function Themed({ children }: { children: ReactNode }) {
  const { lang } = useI18n();
  return (
    <ConfigProvider
      locale={lang === 'en' ? enUS : zhCN}
      theme={{
        token: { colorPrimary: '#2563eb', borderRadius: 8, fontFamily: 'var(--kf-font)', colorText: '#1f2937', colorBgLayout: '#f5f7fa' },
        components: { Segmented: { itemSelectedColor: '#1d4ed8' } },
      }}
    >
      {/* no wrapper element: the console's layout fills the viewport from #root down */}
      <AntApp component={false}>{children}</AntApp>
    </ConfigProvider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18nProvider>
      <Themed>
        <App />
      </Themed>
    </I18nProvider>
  </StrictMode>,
);
