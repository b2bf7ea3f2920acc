export * from './users.ts';
export * from './sessions.ts';
export * from './audit.ts';
export * from './integrity.ts';
export * from './org.ts';
export * from './policies/conversations.ts';
