import type { SearchHit, SearchResult } from './search.ts';

/** The --json line of one hit: a stable, documented shape for scripts. */
export function hitJson(h: SearchHit) {
  return { conversationId: h.conversationId, externalId: h.externalId, messageId: h.messageId, seq: h.seq, role: h.sender.kind, createdAt: h.createdAt, snippet: h.snippet };
}

const ROLE_LABEL: Record<string, string> = { customer: '客户', agent: '客服', bot: '机器人', system: '系统' };

/** Snippet with the hits in bold (on a terminal) or in 【】 (when piped). */
function emphasise(h: SearchHit, tty: boolean): string {
  let out = '';
  let at = 0;
  for (const [s, e] of h.highlights) {
    out += h.snippet.slice(at, s) + (tty ? `\x1b[1;33m${h.snippet.slice(s, e)}\x1b[0m` : `【${h.snippet.slice(s, e)}】`);
    at = e;
  }
  return (out + h.snippet.slice(at)).replace(/\s+/g, ' ');
}

/** A readable listing: one block per hit, then the total. */
export function hitsTable(result: SearchResult, tty: boolean): string {
  if (result.hits.length === 0) return '没有找到匹配的消息 (no matching messages)\n';
  const lines: string[] = [];
  for (const h of result.hits) {
    const when = h.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    const conv = h.externalId ? `${h.conversationId} (${h.externalId})` : h.conversationId;
    lines.push(`${when}  ${ROLE_LABEL[h.sender.kind] ?? h.sender.kind}  ${h.customerName}  ${conv} #${h.seq}`);
    lines.push(`    ${emphasise(h, tty)}`);
  }
  const total = result.totalIsEstimate ? `${result.total}+` : String(result.total);
  lines.push('', `共 ${total} 条，显示 ${result.hits.length} 条 (${result.tookMs} ms)${result.nextCursor ? '；用 --limit 显示更多' : ''}`);
  return lines.join('\n') + '\n';
}
