import type { Kysely } from 'kysely';
import type { Database } from '../store/index.ts';
import { verifyAuditChain } from './audit.ts';
import { verifyCheckpoints, verifyMessageChains } from './integrity.ts';
import { verifyPurgeRecords } from './retention.ts';

/** Every integrity check `kefu verify` runs, and what restore runs after replacing the database. */
export async function verifyIntegrity(db: Kysely<Database>, onProgress?: (conversations: number) => void) {
  const messages = await verifyMessageChains(db, onProgress);
  const audit = await verifyAuditChain(db);
  const checkpoints = await verifyCheckpoints(db);
  const purges = await verifyPurgeRecords(db);
  const cp = checkpoints.broken;
  /** per check, the line that names its first break, or null when it holds */
  const lines = {
    messages: messages.broken && `BROKEN conversation ${messages.broken.conversationId} seq ${messages.broken.seq}: ${messages.broken.reason}`,
    audit: audit.broken && `BROKEN audit event ${audit.broken.id}: ${audit.broken.reason}`,
    checkpoints: cp && `BROKEN checkpoint ${cp.checkpointId}${cp.conversationId ? ` conversation ${cp.conversationId} seq ${cp.seq}` : ''}: ${cp.reason}`,
    purges: purges.broken && `BROKEN conversation ${purges.broken.conversationId} seq ${purges.broken.seq}: ${purges.broken.reason}`,
  };
  const broken = Object.values(lines).filter((b): b is string => Boolean(b));
  return { messages, audit, checkpoints, purges, lines, broken };
}
