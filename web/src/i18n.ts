import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

/** The console speaks Chinese first; English is a full second language, not a fallback. */
export type Lang = 'zh-CN' | 'en';

const zh = {
  'app.name': 'kefu 客服工作台',
  'app.tagline': '自托管的在线客服平台',
  'lang.switch': '切换语言',
  'lang.other': 'English',

  'login.title': '登录客服工作台',
  'login.login': '账号',
  'login.loginPlaceholder': '请输入账号',
  'login.password': '密码',
  'login.passwordPlaceholder': '请输入密码',
  'login.submit': '登录',
  'login.loginRequired': '请输入账号',
  'login.passwordRequired': '请输入密码',
  'login.footer': '会话内容仅授权人员可见，所有访问均会记录审计日志',

  'error.badCredentials': '账号或密码错误',
  'error.network': '无法连接服务器，请检查网络后重试',
  'error.sessionExpired': '登录已失效，请重新登录',
  'error.server': '服务器错误：{message}',
  'error.timeout': '服务器未及时响应',

  'status.online': '已连接',
  'status.connecting': '连接中…',
  'status.reconnecting': '连接已断开，正在重连…',

  'user.logout': '退出登录',
  'role.agent': '客服',
  'role.supervisor': '主管',
  'role.auditor': '审计员',
  'role.admin': '管理员',

  'nav.inbox': '会话',
  'nav.customers': '客户',
  'nav.knowledge': '知识库',
  'nav.archive': '聊天记录查询',
  'nav.reports': '报表',
  'nav.settings': '设置',
  'nav.soon': '{name}（即将上线）',

  'inbox.title': '会话',
  'inbox.search': '搜索客户或消息',
  'inbox.all': '全部',
  'inbox.mine': '我的',
  'inbox.unassigned': '待接入',
  'inbox.empty': '暂无进行中的会话',
  'inbox.emptyHint': '新的客户咨询会实时出现在这里',
  'inbox.noMatch': '没有匹配的会话',
  'inbox.noMessages': '暂无消息',
  'inbox.loadFailed': '会话列表加载失败',
  'inbox.retry': '重试',
  'inbox.listLabel': '会话列表',
  'inbox.unreadCount': '{n} 条未读',
  'inbox.keys': 'Alt+↑/↓ 切换会话',

  'preview.agent': '客服：',
  'preview.bot': '机器人：',
  'preview.system': '系统：',

  'state.bot': '机器人',
  'state.queued': '排队中',
  'state.assigned': '处理中',
  'state.resolved': '已解决',
  'state.closed': '已关闭',
  'channel.web': '网页',
  'channel.email': '邮件',
  'channel.api': 'API',

  'conv.pickTitle': '选择一个会话开始接待',
  'conv.pickHint': '在左侧列表中选择会话，或使用 Alt+↑/↓ 切换',
  'conv.resolve': '解决',
  'conv.resolvedToast': '会话已解决',
  'conv.resolvedBanner': '此会话已解决，无法继续回复',
  'conv.loadFailed': '消息加载失败',
  'conv.typing': '对方正在输入…',
  'conv.messagesLabel': '消息记录',
  'conv.today': '今天',
  'conv.yesterday': '昨天',
  'conv.started': '会话开始于 {time}',
  'conv.read': '已读',
  'conv.sending': '发送中…',
  'conv.failed': '发送失败：{error}',
  'conv.retry': '重试',
  'conv.discard': '删除',
  'conv.notFound': '会话不存在或已被删除',

  'reply.placeholder': '输入回复，Enter 发送，Shift+Enter 换行',
  'reply.label': '回复内容',
  'reply.send': '发送',

  'sender.bot': '机器人',
  'type.image': '图片',
  'type.voice': '语音',
  'type.video': '视频',
  'type.file': '文件',

  'customer.title': '客户信息',
  'customer.id': '客户 ID',
  'customer.externalId': '外部 ID',
  'customer.phone': '电话',
  'customer.email': '邮箱',
  'customer.since': '首次访问',
  'customer.vip': 'VIP {n}',
  'customer.conversations': '历史会话',
  'customer.current': '当前',
  'customer.loadFailed': '客户信息加载失败',
  'customer.empty': '未填写',

  'sender.customer': '客户',
  'sender.agent': '客服',
  'sender.system': '系统',

  'archive.title': '聊天记录查询',
  'archive.subtitle': '搜索全部会话的消息：繁简体互查，英文按词首匹配，数字可搜片段（如订单号后四位）',
  'archive.query': '输入关键词，多个词用空格分隔，Enter 搜索',
  'archive.queryLabel': '搜索关键词',
  'archive.search': '搜索',
  'archive.range': '日期范围',
  'archive.rangeStart': '开始日期',
  'archive.rangeEnd': '结束日期',
  'archive.today': '今天',
  'archive.last7': '近7天',
  'archive.last30': '近30天',
  'archive.lastYear': '近一年',
  'archive.sortLabel': '排序',
  'archive.sortTime': '最新',
  'archive.sortRelevance': '相关度',
  'archive.moreFilters': '更多筛选',
  'archive.reset': '重置',
  'archive.filter.customer': '客户',
  'archive.filter.customerPlaceholder': '客户 ID 或外部 ID',
  'archive.filter.agent': '客服',
  'archive.filter.agentPlaceholder': '客服登录账号',
  'archive.filter.channel': '渠道',
  'archive.filter.channelPlaceholder': '全部渠道',
  'archive.filter.tag': '标签',
  'archive.filter.tagPlaceholder': '会话标签',
  'archive.filter.group': '分组',
  'archive.filter.groupPlaceholder': '分组 ID',
  'archive.total': '共 {n} 条',
  'archive.totalEstimate': '约 {n} 条',
  'archive.took': '用时 {ms} 毫秒',
  'archive.loadMore': '加载更多',
  'archive.end': '已显示全部结果',
  'archive.introTitle': '搜索聊天记录',
  'archive.introHint': '输入关键词，或只选日期范围和筛选条件按时间浏览消息',
  'archive.emptyTitle': '没有找到匹配的聊天记录',
  'archive.emptyHint': '换个关键词，或放宽日期范围和筛选条件',
  'archive.failed': '搜索失败',
  'archive.retry': '重试',
  'archive.hitsLabel': '搜索结果',
  'archive.openHit': '打开会话并定位到这条消息',
  'archive.conversation': '会话 {id}',

  'customers.title': '客户',
  'customers.lookup': '按客户 ID 打开',
  'customers.lookupPlaceholder': '输入客户 ID，Enter 打开',
  'customers.open': '打开',
  'customers.recent': '最近查看',
  'customers.active': '进行中会话的客户',
  'customers.none': '暂无',
  'customers.searchHint': '要按聊天内容找客户，请使用聊天记录查询',
  'customers.goSearch': '去聊天记录查询',

  'customer.details': '客户详情',
  'customer.name': '姓名',
  'customer.vipLevel': 'VIP 等级',
  'customer.createdAt': '创建时间',
  'customer.profile': '客户资料',
  'customer.allConversations': '全部会话',
  'customer.openInConsole': '在会话中打开',
  'customer.searchMessages': '搜索该客户的聊天记录',
  'customer.messageCount': '{n} 条消息',
  'customer.noMessages': '此会话没有消息',
  'customer.messagesFailed': '消息加载失败',
  'customer.notFound': '客户不存在或已被删除',
  'customer.noConversations': '该客户还没有会话',
  'customer.expand': '展开消息',
  'customer.collapse': '收起消息',
  'customer.resolvedAt': '解决于 {time}',
  'customer.conversationLabel': '会话 {time}',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'app.name': 'kefu Agent Console',
  'app.tagline': 'Self-hosted customer service',
  'lang.switch': 'Switch language',
  'lang.other': '中文',

  'login.title': 'Sign in to the agent console',
  'login.login': 'Username',
  'login.loginPlaceholder': 'Your username',
  'login.password': 'Password',
  'login.passwordPlaceholder': 'Your password',
  'login.submit': 'Sign in',
  'login.loginRequired': 'Enter your username',
  'login.passwordRequired': 'Enter your password',
  'login.footer': 'Conversations are visible to authorised staff only; every access is audited',

  'error.badCredentials': 'Wrong username or password',
  'error.network': 'Cannot reach the server; check your network and try again',
  'error.sessionExpired': 'Your session has ended; please sign in again',
  'error.server': 'Server error: {message}',
  'error.timeout': 'The server did not answer in time',

  'status.online': 'Online',
  'status.connecting': 'Connecting…',
  'status.reconnecting': 'Connection lost, reconnecting…',

  'user.logout': 'Sign out',
  'role.agent': 'Agent',
  'role.supervisor': 'Supervisor',
  'role.auditor': 'Auditor',
  'role.admin': 'Administrator',

  'nav.inbox': 'Conversations',
  'nav.customers': 'Customers',
  'nav.knowledge': 'Knowledge base',
  'nav.archive': 'Chat history',
  'nav.reports': 'Reports',
  'nav.settings': 'Settings',
  'nav.soon': '{name} (coming soon)',

  'inbox.title': 'Conversations',
  'inbox.search': 'Search customers or messages',
  'inbox.all': 'All',
  'inbox.mine': 'Mine',
  'inbox.unassigned': 'Waiting',
  'inbox.empty': 'No open conversations',
  'inbox.emptyHint': 'New customer enquiries appear here as they arrive',
  'inbox.noMatch': 'No matching conversations',
  'inbox.noMessages': 'No messages yet',
  'inbox.loadFailed': 'Could not load conversations',
  'inbox.retry': 'Retry',
  'inbox.listLabel': 'Conversation list',
  'inbox.unreadCount': '{n} unread',
  'inbox.keys': 'Alt+↑/↓ to switch',

  'preview.agent': 'Agent: ',
  'preview.bot': 'Bot: ',
  'preview.system': 'System: ',

  'state.bot': 'Bot',
  'state.queued': 'Queued',
  'state.assigned': 'In progress',
  'state.resolved': 'Resolved',
  'state.closed': 'Closed',
  'channel.web': 'Web',
  'channel.email': 'Email',
  'channel.api': 'API',

  'conv.pickTitle': 'Pick a conversation to start',
  'conv.pickHint': 'Choose one from the list, or use Alt+↑/↓',
  'conv.resolve': 'Resolve',
  'conv.resolvedToast': 'Conversation resolved',
  'conv.resolvedBanner': 'This conversation is resolved; replies are closed',
  'conv.loadFailed': 'Could not load messages',
  'conv.typing': 'Customer is typing…',
  'conv.messagesLabel': 'Messages',
  'conv.today': 'Today',
  'conv.yesterday': 'Yesterday',
  'conv.started': 'Conversation started {time}',
  'conv.read': 'Read',
  'conv.sending': 'Sending…',
  'conv.failed': 'Not sent: {error}',
  'conv.retry': 'Retry',
  'conv.discard': 'Discard',
  'conv.notFound': 'This conversation does not exist',

  'reply.placeholder': 'Type a reply — Enter to send, Shift+Enter for a new line',
  'reply.label': 'Reply',
  'reply.send': 'Send',

  'sender.bot': 'Bot',
  'type.image': 'Image',
  'type.voice': 'Voice',
  'type.video': 'Video',
  'type.file': 'File',

  'customer.title': 'Customer',
  'customer.id': 'ID',
  'customer.externalId': 'External ID',
  'customer.phone': 'Phone',
  'customer.email': 'Email',
  'customer.since': 'First seen',
  'customer.vip': 'VIP {n}',
  'customer.conversations': 'Conversations',
  'customer.current': 'Current',
  'customer.loadFailed': 'Could not load the customer',
  'customer.empty': 'Not provided',

  'sender.customer': 'Customer',
  'sender.agent': 'Agent',
  'sender.system': 'System',

  'archive.title': 'Chat history',
  'archive.subtitle': 'Search the messages of every conversation: simplified and traditional Chinese alike, English by word start, parts of numbers (e.g. the last digits of an order number)',
  'archive.query': 'Keywords separated by spaces, Enter to search',
  'archive.queryLabel': 'Search terms',
  'archive.search': 'Search',
  'archive.range': 'Date range',
  'archive.rangeStart': 'Start date',
  'archive.rangeEnd': 'End date',
  'archive.today': 'Today',
  'archive.last7': 'Last 7 days',
  'archive.last30': 'Last 30 days',
  'archive.lastYear': 'Last year',
  'archive.sortLabel': 'Sort',
  'archive.sortTime': 'Newest',
  'archive.sortRelevance': 'Relevance',
  'archive.moreFilters': 'More filters',
  'archive.reset': 'Reset',
  'archive.filter.customer': 'Customer',
  'archive.filter.customerPlaceholder': 'Customer ID or external ID',
  'archive.filter.agent': 'Agent',
  'archive.filter.agentPlaceholder': 'Agent login',
  'archive.filter.channel': 'Channel',
  'archive.filter.channelPlaceholder': 'All channels',
  'archive.filter.tag': 'Tag',
  'archive.filter.tagPlaceholder': 'Conversation tag',
  'archive.filter.group': 'Group',
  'archive.filter.groupPlaceholder': 'Group ID',
  'archive.total': 'Results: {n}',
  'archive.totalEstimate': 'Results: about {n}',
  'archive.took': '{ms} ms',
  'archive.loadMore': 'Load more',
  'archive.end': 'End of results',
  'archive.introTitle': 'Search the chat history',
  'archive.introHint': 'Enter keywords, or pick only a date range and filters to browse messages by time',
  'archive.emptyTitle': 'No messages match',
  'archive.emptyHint': 'Try other keywords, or widen the date range and filters',
  'archive.failed': 'Search failed',
  'archive.retry': 'Retry',
  'archive.hitsLabel': 'Search results',
  'archive.openHit': 'Open the conversation at this message',
  'archive.conversation': 'Conversation {id}',

  'customers.title': 'Customers',
  'customers.lookup': 'Open by customer ID',
  'customers.lookupPlaceholder': 'Customer ID, Enter to open',
  'customers.open': 'Open',
  'customers.recent': 'Recently viewed',
  'customers.active': 'Customers in open conversations',
  'customers.none': 'None yet',
  'customers.searchHint': 'To find a customer by what was said, use the chat history search',
  'customers.goSearch': 'Go to chat history',

  'customer.details': 'Customer details',
  'customer.name': 'Name',
  'customer.vipLevel': 'VIP level',
  'customer.createdAt': 'Created',
  'customer.profile': 'Profile',
  'customer.allConversations': 'All conversations',
  'customer.openInConsole': 'Open in console',
  'customer.searchMessages': "Search this customer's messages",
  'customer.messageCount': 'Messages: {n}',
  'customer.noMessages': 'No messages in this conversation',
  'customer.messagesFailed': 'Could not load the messages',
  'customer.notFound': 'This customer does not exist',
  'customer.noConversations': 'No conversations yet',
  'customer.expand': 'Show messages',
  'customer.collapse': 'Hide messages',
  'customer.resolvedAt': 'Resolved {time}',
  'customer.conversationLabel': 'Conversation {time}',
};

const dictionaries: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': zh, en };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translate(lang: Lang, key: MessageKey, vars?: Record<string, string | number>): string {
  const template = dictionaries[lang][key];
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

const STORAGE_KEY = 'kefu.lang';

function storedLang(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    if (v === 'en' || v === 'zh-CN') return v;
  } catch {
    // storage can be disabled by privacy settings; the default language still works
  }
  return 'zh-CN';
}

interface I18n {
  lang: Lang;
  setLang(lang: Lang): void;
  t: Translate;
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(storedLang);
  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // see storedLang
    }
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const t = useCallback<Translate>((key, vars) => translate(lang, key, vars), [lang]);
  const value = useMemo(() => ({ lang, setLang, t }), [lang, setLang, t]);
  return createElement(I18nContext.Provider, { value }, children);
}

export function useI18n(): I18n {
  const ctx = useContext(I18nContext);
  if (!ctx) throw new Error('useI18n outside <I18nProvider>');
  return ctx;
}
