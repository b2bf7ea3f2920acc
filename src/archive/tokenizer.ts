/**
 * The one tokenizer for the search index and for search queries.
 *
 * ## What is stored
 * A message is normalized (normalize.ts) and cut into runs: CJK runs (Han, kana, Hangul, Bopomofo), letter runs
 * (every other letter or number), digit runs ([0-9]; a single space or '-' between digits does not end the run, so
 * 138-1234-5678, 138 1234 5678 and 13812345678 are the same number). Everything else separates runs and is not
 * indexed (punctuation, symbols, emoji).
 *
 * Every token is lower-case ASCII [a-z0-9], starts with a letter naming its kind, and is at most a few hundred
 * characters, so SQLite FTS5's unicode61/ascii tokenizers and PostgreSQL's to_tsvector('simple', …) each read it as one
 * word and keep it as it is (checked against both in match.test.ts). Each run yields tokens at consecutive positions:
 *
 * - CJK run c1…cn: `c<c1><c2>`, `c<c2><c3>`, …, `c<cn>` — one token per character: the bigram starting there, and
 *   the last character alone. <x> is the code point as 4 hex digits, or `g` + 5 hex digits above U+FFFF (a prefix-free
 *   code, so "starts with" on tokens means "starts with" on characters).
 * - letter run: `l<word>` — a–z as they are, any other letter as `0<x>`; only the first LETTER_LIMIT letters.
 * - digit run d1…dL: `n<di…>` for every i (the digits from i on, at most DIGIT_WINDOW of them), then `r<dL…d1>`
 *   (the last DIGIT_WINDOW digits, reversed).
 *
 * After the runs come `w<word>`: jieba cutForSearch words of 3+ characters, for relevance only. No query term is a
 * `w` token and they sit after every run, so they can neither satisfy nor break a phrase.
 *
 * ## What a query means
 * The query is normalized and split on whitespace into words; a message matches when it matches every word. A word is
 * cut into runs the same way ("pieces"; punctuation inside a word only separates pieces). A one-piece word matches
 * - CJK: anywhere as a substring (收到 finds 没收到);
 * - digits: anywhere as a substring of a digit run (5678 finds 13812345678: agents look numbers up by their last
 *   digits, which costs one token per digit in the index);
 * - letters: as the beginning of a letter run (ref finds Refund, not preRefund; iphone finds iPhone12), comparing at
 *   most LETTER_LIMIT letters.
 * A word of several pieces (订单123, 4g, iphone12, 10:30) matches where the pieces are consecutive runs of the
 * message (separators between them ignored): the first piece ends its run (CJK and digits: any suffix; letters: the
 * whole run), middle pieces are whole runs, the last piece begins its run (as the one-piece rules).
 *
 * Each word becomes one phrase (terms at consecutive positions) using the tokens above: a CJK word is its bigrams,
 * a single character is the prefix `c<x>*` (every character starts a bigram or is a run's last token), a digit word
 * is the prefix `n<digits>*` (longer than DIGIT_WINDOW: the phrase of its windows), a letter word the prefix
 * `l<word>*`. The first piece of a longer word is anchored to its run's end by the run's last token (`c<x>` exact,
 * `r<reversed digits>*`, `l<word>` exact), so the next piece's terms can only match at the start of the next run.
 *
 * Engine requirements: FTS5 with positions (detail=full, the default). A one-character query walks the terms of the
 * bigrams it starts (no prefix index: migration 015 says why). PostgreSQL keeps at most 256 positions per lexeme and none past 16383, so phrases in extremely long or
 * repetitive messages can be missed there.
 */
import { Jieba } from '@node-rs/jieba';
import { dict } from '@node-rs/jieba/dict.js';
import { CJK_CLASS, normalize } from './normalize.ts';

/**
 * Longest digit token body: phone (11), ID card (17 + X), bank card (16–19) and order numbers fit, so a query for any
 * part of them is one prefix term. Longer numbers stay exactly searchable (the query is then a phrase of windows).
 */
export const DIGIT_WINDOW = 20;
/** Letters kept of a letter run: keeps tokens under PostgreSQL's 2047-byte lexeme limit (base64 blobs, long URLs). */
export const LETTER_LIMIT = 64;
/** Shortest jieba word indexed: shorter words are already bigram and character tokens. */
const MIN_WORD = 3;

type RunKind = 'cjk' | 'letter' | 'digit';
interface Run {
  kind: RunKind;
  /** normalized text of the run; for digits without the joining spaces and hyphens */
  text: string;
}

const CJK = new RegExp(`[${CJK_CLASS}]`, 'u');
const WORD = /[\p{L}\p{N}\p{M}]/u;
const SEP = 0;
const CJK_CHAR = 1;
const LETTER_CHAR = 2;
const DIGIT_CHAR = 3;
const KINDS: Record<number, RunKind> = { [CJK_CHAR]: 'cjk', [LETTER_CHAR]: 'letter', [DIGIT_CHAR]: 'digit' };
/** character class of each BMP code point, 255 = not looked up yet */
const bmpClass = new Uint8Array(0x10000).fill(255);

function classOf(cp: number): number {
  if (cp < 0x10000) {
    let k = bmpClass[cp]!;
    if (k === 255) bmpClass[cp] = k = classify(cp);
    return k;
  }
  return classify(cp);
}

function classify(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return DIGIT_CHAR;
  const c = String.fromCodePoint(cp);
  if (CJK.test(c)) return CJK_CHAR;
  return WORD.test(c) ? LETTER_CHAR : SEP;
}

/** The runs of normalized text, in order. */
function splitRuns(normalized: string): Run[] {
  const runs: Run[] = [];
  const n = normalized.length;
  let i = 0;
  while (i < n) {
    const cp = normalized.codePointAt(i)!;
    const cls = classOf(cp);
    if (cls === SEP) {
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    let text = '';
    let from = i;
    let j = i;
    while (j < n) {
      const c = normalized.codePointAt(j)!;
      if (classOf(c) === cls) {
        j += c > 0xffff ? 2 : 1;
      } else if (cls === DIGIT_CHAR && (c === 0x20 || c === 0x2d) && j + 1 < n && classOf(normalized.charCodeAt(j + 1)) === DIGIT_CHAR) {
        // one space or hyphen between digit groups does not end the number; it is left out of the run's text
        text += normalized.slice(from, j);
        from = ++j;
      } else {
        break;
      }
    }
    runs.push({ kind: KINDS[cls]!, text: text + normalized.slice(from, j) });
    i = j;
  }
  return runs;
}

const bmpCode: (string | undefined)[] = new Array(0x10000);
/**
 * Prefix-free ASCII code of a code point: 4 hex digits in the BMP, 'g' + 5 hex digits above (letters, numbers and
 * marks all lie below U+F0000: planes 15 and 16 are private use, which is not indexed).
 */
function code(cp: number): string {
  if (cp > 0xffff) return 'g' + cp.toString(16).padStart(5, '0');
  return (bmpCode[cp] ??= cp.toString(16).padStart(4, '0'));
}

function codes(text: string): string[] {
  const out: string[] = [];
  for (const c of text) out.push(code(c.codePointAt(0)!));
  return out;
}

function letterToken(text: string): string {
  let token = 'l';
  let count = 0;
  for (const c of text) {
    if (count++ === LETTER_LIMIT) break;
    const cp = c.codePointAt(0)!;
    token += cp >= 0x61 && cp <= 0x7a ? c : '0' + code(cp);
  }
  return token;
}

function reverse(s: string): string {
  let out = '';
  for (let i = s.length - 1; i >= 0; i--) out += s[i];
  return out;
}

/** The tokens a run occupies in the stream, one per position. */
function runTokens(run: Run): string[] {
  if (run.kind === 'letter') return [letterToken(run.text)];
  if (run.kind === 'digit') {
    const d = run.text;
    const out: string[] = [];
    for (let i = 0; i < d.length; i++) out.push('n' + d.slice(i, i + DIGIT_WINDOW));
    out.push('r' + reverse(d.slice(-DIGIT_WINDOW)));
    return out;
  }
  const cs = codes(run.text);
  const out: string[] = [];
  for (let i = 0; i < cs.length - 1; i++) out.push('c' + cs[i] + cs[i + 1]);
  out.push('c' + cs[cs.length - 1]);
  return out;
}

let jiebaInstance: Jieba | undefined;
function jieba(): Jieba {
  return (jiebaInstance ??= Jieba.withDict(dict));
}

/** jieba words of 3+ characters as `w` tokens. HMM off: dictionary words cut the same way in a query as in a message. */
function wordTokens(cjk: string): string[] {
  if (cjk.length < MIN_WORD) return [];
  const out: string[] = [];
  for (const word of jieba().cutForSearch(cjk, false)) {
    if ([...word].length >= MIN_WORD) out.push('w' + codes(word).join(''));
  }
  return out;
}

/** The tokens stored for a message, in stream order (positions matter: queries are phrases). */
export function indexTokens(text: string): string[] {
  const runs = splitRuns(normalize(text));
  const tokens: string[] = [];
  const words: string[] = [];
  for (const run of runs) {
    for (const t of runTokens(run)) tokens.push(t);
    if (run.kind === 'cjk') for (const w of wordTokens(run.text)) words.push(w);
  }
  for (const w of words) tokens.push(w);
  return tokens;
}

/** What is stored for a message: FTS5 column text, or the input of to_tsvector('simple', …). */
export function indexText(text: string): string {
  return indexTokens(text).join(' ');
}

export interface PhraseTerm {
  token: string;
  /** matches every token that starts with `token` */
  prefix: boolean;
}

/** One query word: its terms must occupy consecutive positions of a message's stream. */
export interface QueryTerm {
  /** the normalized word */
  word: string;
  phrase: PhraseTerm[];
}

export interface QueryTokens {
  /** ANDed; empty when the query has nothing searchable (only punctuation or emoji), which matches nothing */
  terms: QueryTerm[];
  /**
   * `w` tokens of the query's CJK words, for relevance only: they never decide whether a message matches. To let them
   * count, OR them into the ranking expression only, e.g. FTS5 `(<match>) AND (<first phrase> OR "w…" OR …)` for bm25,
   * PostgreSQL `ts_rank(v, <tsquery> || '<w…> | …')`.
   */
  rank: string[];
}

const exact = (token: string): PhraseTerm => ({ token, prefix: false });
const prefix = (token: string): PhraseTerm => ({ token, prefix: true });

/** The piece as a whole run: every token it occupies, exactly. */
function wholeTerms(run: Run): PhraseTerm[] {
  return runTokens(run).map(exact);
}

/** The piece as the end of a run. */
function endTerms(run: Run): PhraseTerm[] {
  // the reversed token is the run's last: a digit suffix up to DIGIT_WINDOW long is a prefix of it
  if (run.kind === 'digit' && run.text.length <= DIGIT_WINDOW) return [prefix('r' + reverse(run.text))];
  // CJK: the bigrams end at the run's lone last character; letters: the word must start at the run's start anyway
  return wholeTerms(run);
}

/** The piece as the start of a run, or, alone, anywhere. */
function startTerms(run: Run): PhraseTerm[] {
  if (run.kind === 'letter') return [prefix(letterToken(run.text))];
  if (run.kind === 'digit') {
    const d = run.text;
    if (d.length <= DIGIT_WINDOW) return [prefix('n' + d)];
    const windows: PhraseTerm[] = [];
    for (let i = 0; i + DIGIT_WINDOW <= d.length; i++) windows.push(exact('n' + d.slice(i, i + DIGIT_WINDOW)));
    return windows;
  }
  const cs = codes(run.text);
  if (cs.length === 1) return [prefix('c' + cs[0])];
  const bigrams: PhraseTerm[] = [];
  for (let i = 0; i < cs.length - 1; i++) bigrams.push(exact('c' + cs[i] + cs[i + 1]));
  return bigrams;
}

/** A search query as phrases of index tokens. */
export function queryTokens(query: string): QueryTokens {
  const terms: QueryTerm[] = [];
  const seen = new Set<string>();
  const rank = new Set<string>();
  for (const word of normalize(query).split(/\s+/)) {
    const pieces = splitRuns(word);
    if (pieces.length === 0) continue;
    const phrase =
      pieces.length === 1
        ? startTerms(pieces[0]!)
        : [...endTerms(pieces[0]!), ...pieces.slice(1, -1).flatMap(wholeTerms), ...startTerms(pieces[pieces.length - 1]!)];
    const key = phrase.map((t) => t.token + (t.prefix ? '*' : '')).join(' ');
    if (seen.has(key)) continue;
    seen.add(key);
    terms.push({ word, phrase });
    for (const p of pieces) if (p.kind === 'cjk') for (const w of wordTokens(p.text)) rank.add(w);
  }
  return { terms, rank: [...rank] };
}

const SAFE_TOKEN = /^[a-z][0-9a-z]*$/;
function checked(token: string): string {
  // tokens are built from hex digits and a-z only; this guards the query languages against a future bug, not users
  if (!SAFE_TOKEN.test(token)) throw new Error(`unsafe search token: ${JSON.stringify(token)}`);
  return token;
}

/** The FTS5 MATCH expression, or null when there is nothing to search for. */
export function toFts5Match(q: QueryTokens): string | null {
  if (q.terms.length === 0) return null;
  return q.terms.map((t) => t.phrase.map((p) => `"${checked(p.token)}"${p.prefix ? ' *' : ''}`).join(' + ')).join(' AND ');
}

/** The PostgreSQL tsquery text (bind it as `$1::tsquery`), or null when there is nothing to search for. */
export function toTsQuery(q: QueryTokens): string | null {
  if (q.terms.length === 0) return null;
  return q.terms
    .map((t) => {
      const phrase = t.phrase.map((p) => `'${checked(p.token)}'${p.prefix ? ':*' : ''}`).join(' <-> ');
      return t.phrase.length > 1 ? `(${phrase})` : phrase;
    })
    .join(' & ');
}

/**
 * Whether a message's tokens satisfy the query, evaluated the way FTS5 MATCH and tsvector @@ tsquery do (phrases at
 * consecutive positions, prefix terms, AND). For checking a message in memory, e.g. against an open search.
 */
export function matchTokens(tokens: readonly string[], q: QueryTokens): boolean {
  return q.terms.length > 0 && q.terms.every(({ phrase }) => phraseOccurs(tokens, phrase));
}

function phraseOccurs(tokens: readonly string[], phrase: readonly PhraseTerm[]): boolean {
  for (let p = 0; p + phrase.length <= tokens.length; p++) {
    let k = 0;
    for (; k < phrase.length; k++) {
      const term = phrase[k]!;
      const token = tokens[p + k]!;
      if (term.prefix ? !token.startsWith(term.token) : token !== term.token) break;
    }
    if (k === phrase.length) return true;
  }
  return false;
}
