import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MessageAppender } from '../conversations/index.ts';

const MS_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export function createMetrics(appender: MessageAppender) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const messages = new Counter({ name: 'kefu_messages_stored_total', help: 'messages committed', labelNames: ['sender'], registers: [registry] });
  const batch = new Histogram({
    name: 'kefu_message_commit_batch_size',
    help: 'messages per group commit',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [registry],
  });
  // a message's wait before it is acknowledged: for a group commit to take it, then for that commit and its sync
  const queued = new Histogram({
    name: 'kefu_message_queue_seconds',
    help: 'time a message waited for a group commit to take it',
    buckets: MS_BUCKETS,
    registers: [registry],
  });
  const commit = new Histogram({
    name: 'kefu_message_commit_seconds',
    help: 'time from handing a batch to the writer to its answer (commit and sync to disk)',
    buckets: MS_BUCKETS,
    registers: [registry],
  });
  // SQLite: acknowledged (in the message log) and not yet in the database; reads wait for these. Stays near 0
  new Gauge({
    name: 'kefu_message_batches_unapplied',
    help: 'acknowledged group commits the database does not hold yet (SQLite message log; 0 with PostgreSQL)',
    registers: [registry],
    collect() {
      this.set(appender.unapplied());
    },
  });
  appender.on('timed', (t) => {
    for (const ms of t.queuedMs) queued.observe(ms / 1000);
    commit.observe(t.writeMs / 1000);
  });
  appender.on('committed', (ms) => {
    batch.observe(ms.length);
    for (const m of ms) messages.inc({ sender: m.senderKind });
  });
  return registry;
}
