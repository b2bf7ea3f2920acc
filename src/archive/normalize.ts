/**
 * Text normalisation shared by indexing, querying and highlighting.
 *
 * The text is folded one segment at a time (a code point plus the combining marks after it), so folding commutes with
 * taking substrings: normalize(a + b) === normalize(a) + normalize(b) whenever b does not start with a combining mark.
 * That is what makes "the query is a substring of the message" mean the same before and after folding, and it is why
 * traditional → simplified conversion is done per character (see `buildHanFold`) instead of with OpenCC's phrase converter.
 *
 * Per segment: NFKC (full-width letters, digits and punctuation, the ideographic space, ligatures, circled numbers,
 * CJK compatibility ideographs) → lower case → diacritics removed from Latin, Greek and Cyrillic letters (café = cafe)
 * → marks that decorate non-letters dropped (emoji variation selectors, keycaps, ideographic variation selectors)
 * → invisible format characters dropped (zero-width space and joiner, BOM, bidi marks) → Han characters folded to
 * simplified. A segment can fold to a different length (㎡ → m2, … → ..., ﬁ → fi, é + U+0301 → e, U+200B → ''),
 * so `normalizeWithOffsets` reports where every folded code unit came from.
 */
import { Locale, type DictGroup } from 'opencc-js/t2cn';

/** The characters indexed one by one (tokenizer.ts), as the inside of a regular expression character class. */
export const CJK_CLASS = String.raw`\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\p{sc=Bopomofo}\u30fc`;

/** Latin, Greek and Cyrillic lose their diacritics: users type them inconsistently, and their words survive without. */
const FOLDS_DIACRITICS = /^[\p{sc=Latin}\p{sc=Greek}\p{sc=Cyrillic}]/u;
/** CJK characters drop their marks like symbols do: once NFKC has composed kana, only variation selectors remain. */
const CJK_LETTER = new RegExp(`^[${CJK_CLASS}]`, 'u');
const LETTER = /^\p{L}/u;
const MARKS = /\p{M}/gu;
const FORMAT = /\p{Cf}/gu;
const IS_MARK = /^\p{M}/u;

/**
 * Traditional and variant Han characters → one simplified representative, built once from the single-character
 * entries of the dictionaries behind OpenCC's hk→cn and tw→cn converters (HK and TW variant tables, then TSCharacters).
 *
 * Why not call `Converter({ from: 'hk', to: 'cn' })` on the text: its phrase step depends on the neighbouring
 * characters (回覆 → 回复 but 覆 alone stays 覆), so a query could fold differently from the same characters inside a
 * message. Why several tables: 'hk' keeps 著 where 'tw' gives 着, 'tw' turns the simplified 么 into 幺; joining every
 * pair the tables relate (union-find) and picking the class's simplified member makes 著/着 and 麼/么 meet whichever
 * locale the writer used, while simplified text stays as it is. Regional vocabulary ('twp'/'hkp': 軟體 → 软件,
 * 埠 → 端口) is not a character variant and would change lengths, so it is left out.
 */
function buildHanFold(): Map<string, string> {
  const parent = new Map<string, string>();
  const find = (c: string): string => {
    const p = parent.get(c) ?? c;
    if (p === c) return c;
    const root = find(p);
    parent.set(c, root);
    return root;
  };
  const simplifiedTargets = new Set<string>();
  const simplifiedSources = new Set<string>();
  const inDegree = new Map<string, number>();
  const seenPairs = new Set<string>();
  const tables: Array<[readonly DictGroup[], boolean]> = [
    [Locale.from.hk, false],
    [Locale.from.tw, false],
    [Locale.to.cn, true],
  ];
  for (const [groups, toSimplified] of tables) {
    for (const dict of groups.flat()) {
      const entries = typeof dict === 'string' ? dict.split('|').map((e) => e.split(' ')) : dict;
      for (const [from, to] of entries) {
        if (!from || !to || from === to || !isOneCodePoint(from) || !isOneCodePoint(to)) continue;
        if (toSimplified) {
          simplifiedSources.add(from);
          simplifiedTargets.add(to);
        }
        const a = find(from);
        const b = find(to);
        if (a !== b) parent.set(a, b);
        if (!seenPairs.has(from + to)) {
          seenPairs.add(from + to);
          inDegree.set(to, (inDegree.get(to) ?? 0) + 1);
        }
      }
    }
  }
  const classes = new Map<string, string[]>();
  for (const c of new Set([...parent.keys(), ...parent.values()])) {
    const root = find(c);
    const members = classes.get(root);
    if (members) members.push(c);
    else classes.set(root, [c]);
  }
  // the representative: a simplified form TSCharacters produces; among several, the one most tables point at
  const isSimplified = (c: string) => (simplifiedTargets.has(c) && !simplifiedSources.has(c) ? 1 : 0);
  const preference = (c: string, other: string) =>
    isSimplified(c) - isSimplified(other) || (inDegree.get(c) ?? 0) - (inDegree.get(other) ?? 0) || other.codePointAt(0)! - c.codePointAt(0)!;
  const fold = new Map<string, string>();
  for (const members of classes.values()) {
    const rep = members.reduce((best, c) => (preference(c, best) > 0 ? c : best));
    for (const c of members) if (c !== rep) fold.set(c, rep);
  }
  return fold;
}

function isOneCodePoint(s: string): boolean {
  const cp = s.codePointAt(0)!;
  return s.length === (cp > 0xffff ? 2 : 1);
}

let hanFoldTable: Map<string, string> | undefined;
function hanFold(): Map<string, string> {
  return (hanFoldTable ??= buildHanFold());
}

function foldSegment(segment: string): string {
  let s = segment.normalize('NFKC').toLowerCase();
  if (FOLDS_DIACRITICS.test(s)) s = s.normalize('NFD').replace(MARKS, '');
  else if (!LETTER.test(s) || CJK_LETTER.test(s)) s = s.replace(MARKS, '');
  s = s.replace(FORMAT, '');
  const table = hanFold();
  let out = '';
  for (const c of s) out += table.get(c) ?? c;
  return out;
}

/** Folded form of each lone BMP code unit, filled on first sight: almost all text is made of these. */
const bmpFolded: (string | undefined)[] = new Array(0x10000);
const astralFolded = new Map<number, string>();
/** 1 = combining mark, 2 = not, 0 = not looked up yet (BMP only; astral marks are rare and tested directly). */
const bmpMark = new Uint8Array(0x10000);

function isMarkAt(text: string, i: number): boolean {
  const unit = text.charCodeAt(i);
  if (unit < 0x300) return false;
  if (unit < 0xd800 || unit > 0xdfff) {
    let m = bmpMark[unit]!;
    if (m === 0) bmpMark[unit] = m = IS_MARK.test(text[i]!) ? 1 : 2;
    return m === 1;
  }
  return IS_MARK.test(String.fromCodePoint(text.codePointAt(i)!));
}

/**
 * The core loop. `sources`, when given, receives for every code unit of the result the index in `text` where the
 * segment that produced it starts.
 */
function fold(text: string, sources?: number[]): string {
  let out = '';
  const n = text.length;
  let i = 0;
  while (i < n) {
    const start = i;
    const unit = text.charCodeAt(i);
    const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
    const astral = unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
    i += astral ? 2 : 1;
    let folded: string;
    if (i < n && isMarkAt(text, i)) {
      while (i < n && isMarkAt(text, i)) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
      folded = foldSegment(text.slice(start, i));
    } else if (!astral) {
      folded = bmpFolded[unit] ??= foldSegment(text[start]!);
    } else {
      const cp = text.codePointAt(start)!;
      let cached = astralFolded.get(cp);
      if (cached === undefined) astralFolded.set(cp, (cached = foldSegment(text.slice(start, i))));
      folded = cached;
    }
    out += folded;
    if (sources) for (let k = 0; k < folded.length; k++) sources.push(start);
  }
  return out;
}

/** The folded text that is tokenized for the index and for queries. */
export function normalize(text: string): string {
  return fold(text);
}

export interface NormalizedText {
  /** same as normalize(original) */
  text: string;
  /** sources[i] = index in the original of the segment that produced text[i]; sources[text.length] = original.length */
  sources: Uint32Array;
}

/** normalize(text) plus the way back to the original, for highlighting matches in the text the user sees. */
export function normalizeWithOffsets(text: string): NormalizedText {
  const sources: number[] = [];
  const folded = fold(text, sources);
  sources.push(text.length);
  return { text: folded, sources: Uint32Array.from(sources) };
}

/**
 * The original range [start, end) covering normalized [from, to): widened to whole segments, so a highlight never
 * cuts through a character that folded into several (㎡ → m2) or a base character and its marks.
 */
export function originalRange(n: NormalizedText, from: number, to: number): [number, number] {
  if (from >= to) return [n.sources[from]!, n.sources[from]!];
  const last = n.sources[to - 1]!;
  let j = to;
  while (j < n.text.length && n.sources[j] === last) j++;
  return [n.sources[from]!, n.sources[j]!];
}
