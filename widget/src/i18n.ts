/** UI strings: zh-CN by default, English for `data-lang="en"` or an English browser. */
export type Lang = 'zh-CN' | 'en';

const zh = {
  launcher: '在线客服',
  title: '在线客服',
  subtitle: '我们通常在几分钟内回复',
  close: '关闭',
  send: '发送',
  input: '输入消息',
  placeholder: '请输入消息…',
  hint: 'Enter 发送，Shift+Enter 换行',
  log: '消息记录',
  connecting: '连接中…',
  connected: '已连接',
  reconnecting: '连接断开，正在重连…',
  typing: '客服正在输入…',
  sending: '发送中…',
  failed: '发送失败',
  retry: '重试',
  welcome: '您好！请问有什么可以帮您？发送消息即可开始对话。',
  unread: (n: number) => `${n} 条未读消息`,
  you: '我',
  agent: '客服',
  image: '[图片]',
  file: '[文件]',
  voice: '[语音]',
  video: '[视频]',
};

export type Strings = typeof zh;

const en: Strings = {
  launcher: 'Chat with us',
  title: 'Customer service',
  subtitle: 'We usually reply within minutes',
  close: 'Close',
  send: 'Send',
  input: 'Message',
  placeholder: 'Type a message…',
  hint: 'Enter to send, Shift+Enter for a new line',
  log: 'Messages',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection lost, reconnecting…',
  typing: 'Agent is typing…',
  sending: 'Sending…',
  failed: 'Not sent',
  retry: 'Retry',
  welcome: 'Hello! How can we help you? Send a message to start.',
  unread: (n: number) => `${n} unread message${n === 1 ? '' : 's'}`,
  you: 'Me',
  agent: 'Agent',
  image: '[image]',
  file: '[file]',
  voice: '[voice]',
  video: '[video]',
};

/** `data-lang` on the script tag wins; otherwise English only when the browser prefers English. */
export function pickLang(attr: string | null | undefined, browser: string | undefined): Lang {
  const pick = (attr || '').toLowerCase();
  if (pick.startsWith('en')) return 'en';
  if (pick.startsWith('zh')) return 'zh-CN';
  return (browser || '').toLowerCase().startsWith('en') ? 'en' : 'zh-CN';
}

export function strings(lang: Lang): Strings {
  return lang === 'en' ? en : zh;
}
