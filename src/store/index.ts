export { openStore, openSqliteConnection, migrate, sqliteFile, type Store, type StoreOptions } from './db.ts';
export { dialectOf, type DialectName } from './dialect/index.ts';
export type * from './schema.ts';
export { newId } from './ids.ts';
export { inChunks, padToPowerOfTwo, powerOfTwoChunks } from './chunks.ts';
export type { WriteLease } from './write-lease.ts';
export { WalSync } from './wal-sync.ts';
