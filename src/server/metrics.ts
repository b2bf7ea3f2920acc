import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MessageAppender } from '../conversations/index.ts';

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
  appender.on('committed', (ms) => {
    batch.observe(ms.length);
    for (const m of ms) messages.inc({ sender: m.senderKind });
  });
  return registry;
}
