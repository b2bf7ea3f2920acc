import { normalizeWithOffsets, originalRange } from './normalize.ts';

export interface Snippet {
  /** a window of the message around its first hit; "…" marks a cut */
  text: string;
  /** [start, end) offsets into text */
  highlights: Array<[number, number]>;
}

const LATIN = /[a-z]/;

/** Where the query words occur in the original text, found on the folded text and mapped back. */
export function findHits(body: string, words: string[]): Array<[number, number]> {
  if (words.length === 0) return [];
  const n = normalizeWithOffsets(body);
  const ranges: Array<[number, number]> = [];
  for (const word of words) {
    if (!word) continue;
    for (let at = n.text.indexOf(word); at >= 0; at = n.text.indexOf(word, at + 1)) {
      // a Latin query word matches the start of a word, as the index does
      if (LATIN.test(word[0]!) && at > 0 && LATIN.test(n.text[at - 1]!)) continue;
      ranges.push(originalRange(n, at, at + word.length));
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

/** A window of about `width` characters around the first hit, with highlight offsets relative to the window. */
export function makeSnippet(body: string, words: string[], width = 120): Snippet {
  const hits = findHits(body, words);
  if (body.length <= width) return { text: body, highlights: hits };
  const first = hits[0]?.[0] ?? 0;
  let start = Math.max(0, first - Math.floor(width / 3));
  const end = Math.min(body.length, start + width);
  start = Math.max(0, end - width);
  const prefix = start > 0 ? '…' : '';
  const suffix = end < body.length ? '…' : '';
  const shift = prefix.length - start;
  const highlights = hits
    .filter(([s, e]) => e > start && s < end)
    .map(([s, e]): [number, number] => [Math.max(s, start) + shift, Math.min(e, end) + shift]);
  return { text: prefix + body.slice(start, end) + suffix, highlights };
}
