import type { Line } from './lines.ts';
import { Invalid, rawId, validateRecord, type Parsed } from './record.ts';

/** One conversation per line; blank lines are ignored. Each line is parsed and validated on its own. */
export async function* parseJsonl(lines: AsyncIterable<Line>, importStart: number): AsyncGenerator<Parsed> {
  for await (const l of lines) {
    if ('error' in l) {
      yield { ok: false, bad: { line: l.no, reason: l.error } };
      continue;
    }
    if (l.text.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(l.text);
    } catch (err) {
      yield { ok: false, bad: { line: l.no, reason: `invalid JSON: ${(err as Error).message}` } };
      continue;
    }
    try {
      yield { ok: true, record: validateRecord(raw, l.no, importStart) };
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      yield { ok: false, bad: { line: l.no, id: rawId(raw), reason: err.message } };
    }
  }
}
