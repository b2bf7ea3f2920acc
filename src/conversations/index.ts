export * from './appender.ts';
export * from './chain.ts';
export * from './conversations.ts';
export * from './imported.ts';
export * from './presenters.ts';
export { attachGateway, clientEvents } from './gateway.ts';
export { registerConversationRoutes } from './http.ts';
export { DEFAULT_INDEX_TIMING, SqliteAppendThread } from './append-thread.ts';
export { storeLeftMessageLog } from './message-log-offline.ts';
