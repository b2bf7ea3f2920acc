/**
 * The quality bar of the tokenizer: on the real customer-service corpus, the messages a query finds through index
 * tokens are exactly the messages a brute-force scan of the normalized text finds, for every kind of query.
 * The token side is checked three ways: the in-memory evaluation (matchTokens), SQLite FTS5, and PostgreSQL
 * (tsvector + GIN) when the suite provides a cluster.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { loadCorpus, type CorpusConversation } from '../../test/support/corpus.ts';
import { testDialects } from '../../test/support/databases.ts';
import { LETTER_LIMIT, indexText, indexTokens, matchTokens, normalize, queryTokens, toFts5Match, toTsQuery } from './index.ts';

const zh = loadCorpus('zh');
const en = loadCorpus('en');
const skip = zh && en ? false : 'the corpus in ../shared/data is absent';

/** Queries by kind. `same` pairs must find the same messages (folding); `none` must find nothing. */
const QUERIES = {
  cjk1: ['差', '慢', '卡', '网', '的', '吗'],
  cjk2: ['宽带', '流量', '投诉', '套餐', '话费', '订单', '维修', '扣费', '退款', '发票', '快递', '收到', '客服', '信号', '质量', '退还', '问题'],
  cjk34: ['没收到', '营业厅', '中国电信', '信号不好', '手机号码', '不能上网', '锤子手机', '客服电话'],
  traditional: ['發票', '寬帶', '質量', '退還', '電信', '聯通', '問題', '網絡', '什麼'],
  fullWidth: ['ＡＢＣ', '１２３', '１００８６', 'ｉＰｈｏｎｅ', 'ＷＩＦＩ', '４Ｇ'],
  latin: ['iphone', 'ipho', 'wifi', 'app', 'vivo', 'http', 'refund', 'refu', 'signal', 'sign', 'broadband', 'complaint', 'order', 'ord', 'the', 'abc', 'ok'],
  digits: ['10000', '10086', '10010', '400', '2014', '8888', '123', '5', '0', '138'],
  mixed: ['4g', '3g', '4G套餐', 'iphone6', '10000号', '3G上网', '订单号1', 't.cn', '@中国电信', '[呵呵]', '10.8', '2014年', 'a1', 'mate7'],
  and: ['信号 差', '网速 慢', '退款 订单', '流量 扣费', '宽带 投诉 慢', 'iphone 手机', 'refund order', '4g 套餐', '宽带　投诉'],
  none: ['量子纠缠', 'xyzzy', '99999999999', '12345678901234567890123', '退款退款退款', '😀', '!!!', ''],
};
const SAME: [string, string][] = [
  ['發票', '发票'],
  ['寬帶', '宽带'],
  ['質量', '质量'],
  ['退還', '退还'],
  ['問題', '问题'],
  ['ＡＢＣ', 'abc'],
  ['１２３', '123'],
  ['１００８６', '10086'],
  ['ｉＰｈｏｎｅ', 'iphone'],
  ['４Ｇ', '4g'],
  ['宽带　投诉', '宽带 投诉'],
];
/** README "Typical search queries": [query, conversations, messages], counted there as raw substrings. */
const README_ZH: [string, number, number][] = [
  ['宽带', 498, 787],
  ['流量', 430, 786],
  ['投诉', 425, 501],
  ['套餐', 366, 551],
  ['话费', 262, 337],
  ['订单', 237, 364],
  ['维修', 202, 277],
  ['信号 差', 86, 87],
  ['扣费', 65, 76],
  ['退款', 57, 82],
  ['发票', 39, 72],
  ['快递', 30, 42],
  ['网速 慢', 29, 28],
  ['退款 订单', 26, 16],
  ['流量 扣费', 23, 21],
];
const README_EN: [string, number][] = [
  ['refund', 63],
  ['signal', 188],
  ['broadband', 240],
  ['complaint', 128],
  ['order', 218],
];
const ALL_QUERIES = [...new Set([...Object.values(QUERIES).flat(), ...SAME.flat(), ...README_ZH.map((r) => r[0])])];

// ---- the brute-force reference: the documented semantics on plain strings, written apart from the tokenizer ----

type PieceKind = 'cjk' | 'digit' | 'letter';
interface Piece {
  kind: PieceKind;
  text: string;
}
const CJK_CLASS = String.raw`\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\p{sc=Bopomofo}\u30fc`;
const PIECE = new RegExp(String.raw`(?<cjk>[${CJK_CLASS}]+)|(?<digit>[0-9]+(?:[ \-][0-9]+)*)|(?<letter>[[\p{L}\p{N}\p{M}]--[0-9${CJK_CLASS}]]+)`, 'gv');

function pieces(normalized: string): Piece[] {
  return [...normalized.matchAll(PIECE)].map((m) => {
    const g = m.groups!;
    if (g.cjk) return { kind: 'cjk', text: g.cjk };
    if (g.digit) return { kind: 'digit', text: g.digit.replace(/[ -]/g, '') };
    return { kind: 'letter', text: g.letter! };
  });
}

/** letter runs are compared on their first LETTER_LIMIT letters */
const cut = (s: string) => (s.length <= LETTER_LIMIT ? s : [...s].slice(0, LETTER_LIMIT).join(''));

interface Message {
  id: number;
  conversation: string;
  text: string;
  normalized: string;
  /** normalized, with the space or hyphen between two digit groups removed (they form one number) */
  numbers: string;
  pieces: Piece[];
  tokens: string[];
}

function wordMatches(m: Message, word: Piece[]): boolean {
  const [only] = word;
  if (word.length === 1 && only) {
    if (only.kind === 'cjk') return m.normalized.includes(only.text);
    if (only.kind === 'digit') return m.numbers.includes(only.text);
    return m.pieces.some((p) => p.kind === 'letter' && cut(p.text).startsWith(cut(only.text)));
  }
  const last = word.length - 1;
  for (let j = 0; j + word.length <= m.pieces.length; j++) {
    const ok = word.every((q, k) => {
      const p = m.pieces[j + k]!;
      if (p.kind !== q.kind) return false;
      if (q.kind === 'letter') return k === last ? cut(p.text).startsWith(cut(q.text)) : cut(p.text) === cut(q.text);
      if (k === 0) return p.text.endsWith(q.text);
      return k === last ? p.text.startsWith(q.text) : p.text === q.text;
    });
    if (ok) return true;
  }
  return false;
}

function referenceMatcher(query: string): (m: Message) => boolean {
  const words = normalize(query)
    .split(/\s+/)
    .map(pieces)
    .filter((w) => w.length > 0);
  return (m) => words.length > 0 && words.every((w) => wordMatches(m, w));
}

function messagesOf(conversations: CorpusConversation[], firstId: number): Message[] {
  const out: Message[] = [];
  for (const c of conversations) {
    for (const t of c.turns) {
      const normalized = normalize(t.text);
      out.push({
        id: firstId + out.length,
        conversation: c.id,
        text: t.text,
        normalized,
        numbers: normalized.replace(/(?<=[0-9])[ -](?=[0-9])/g, ''),
        pieces: pieces(normalized),
        tokens: indexTokens(t.text),
      });
    }
  }
  return out;
}

const zhMessages = zh ? messagesOf(zh, 1) : [];
const enMessages = en ? messagesOf(en, 1 + zhMessages.length) : [];
const messages = [...zhMessages, ...enMessages];

const ids = (list: Message[]) => list.map((m) => m.id);
const referenceIds = new Map(ALL_QUERIES.map((q) => [q, ids(messages.filter(referenceMatcher(q)))]));

test('every query finds through its tokens exactly the messages the brute-force scan finds', { skip }, (t) => {
  assert.ok(ALL_QUERIES.length >= 40);
  for (const [kind, list] of Object.entries(QUERIES)) {
    for (const q of list) {
      const tokens = queryTokens(q);
      const found = ids(messages.filter((m) => matchTokens(m.tokens, tokens)));
      const expected = referenceIds.get(q)!;
      assert.deepEqual(found, expected, `${kind} query ${JSON.stringify(q)}: ${toFts5Match(tokens)}`);
      const inZh = expected.filter((id) => id <= zhMessages.length).length;
      t.diagnostic(`${kind.padEnd(11)} ${JSON.stringify(q).padEnd(16)} zh ${String(inZh).padStart(5)}  en ${String(expected.length - inZh).padStart(5)}`);
    }
  }
  for (const kind of ['cjk1', 'cjk2', 'cjk34', 'traditional', 'fullWidth', 'latin', 'digits', 'mixed', 'and'] as const) {
    const empty = QUERIES[kind].filter((q) => referenceIds.get(q)!.length === 0);
    assert.deepEqual(empty, [], `${kind} queries that find nothing make a weak test`);
  }
  for (const q of QUERIES.none) assert.deepEqual(referenceIds.get(q), [], `${JSON.stringify(q)} should find nothing`);
  for (const [a, b] of SAME) assert.deepEqual(referenceIds.get(a), referenceIds.get(b), `${a} = ${b}`);
});

test('the README counts hold as raw substrings, and normalization only adds traditional and full-width spellings', { skip }, (t) => {
  const byConversation = new Map<string, Message[]>();
  for (const m of zhMessages) byConversation.set(m.conversation, [...(byConversation.get(m.conversation) ?? []), m]);
  for (const [query, conversations, messageCount] of README_ZH) {
    const words = query.split(' ');
    const raw = zhMessages.filter((m) => words.every((w) => m.text.includes(w)));
    assert.equal(raw.length, messageCount, `${query}: messages`);
    const rawConversations = [...byConversation.values()].filter((ms) => words.every((w) => ms.some((m) => m.text.includes(w))));
    assert.equal(rawConversations.length, conversations, `${query}: conversations`);

    const found = referenceIds.get(query)!.filter((id) => id <= zhMessages.length);
    const tokens = queryTokens(query);
    assert.deepEqual(ids(zhMessages.filter((m) => matchTokens(m.tokens, tokens))), found, `${query}: tokens`);
    const rawIds = new Set(ids(raw));
    assert.ok(ids(raw).every((id) => found.includes(id)), `${query}: a raw hit was lost`);
    const extra = zhMessages.filter((m) => found.includes(m.id) && !rawIds.has(m.id));
    for (const m of extra) assert.ok(!words.every((w) => m.text.includes(w)) && words.every((w) => m.normalized.includes(w)));
    t.diagnostic(`${query}: README ${messageCount}, found ${found.length}${extra.length ? ` (+ ${extra.map((m) => JSON.stringify(m.text.slice(0, 60))).join(', ')})` : ''}`);
  }
  for (const [word, conversations] of README_EN) {
    const raw = en!.filter((c) => c.turns.some((turn) => turn.text.toLowerCase().includes(word)));
    assert.equal(raw.length, conversations, word);
    const found = new Set(enMessages.filter((m) => referenceIds.get(word)!.includes(m.id)).map((m) => m.conversation));
    t.diagnostic(`${word}: README ${conversations} conversations (substring), ${found.size} by word prefix`);
  }
});

/** The corpus in an in-memory FTS5 table, built on first use: (query) => ids of the matching messages. */
let fts5Search: ((query: string) => number[]) | undefined;
let fts5Db: Database.Database | undefined;
after(() => fts5Db?.close());
function fts5(): (query: string) => number[] {
  if (fts5Search) return fts5Search;
  const db = (fts5Db = new Database(':memory:'));
  db.exec(`create virtual table doc using fts5(tokens)`);
  const insert = db.prepare('insert into doc(rowid, tokens) values (?, ?)');
  db.transaction(() => {
    for (const m of messages) insert.run(m.id, indexText(m.text));
  })();
  const search = db.prepare('select rowid as id from doc where doc match ? order by rowid');
  return (fts5Search = (query) => {
    const match = toFts5Match(queryTokens(query));
    return match === null ? [] : search.all(match).map((r) => (r as { id: number }).id);
  });
}

test('SQLite FTS5 finds the same messages', { skip }, () => {
  const search = fts5();
  for (const q of ALL_QUERIES) assert.deepEqual(search(q), referenceIds.get(q), `${JSON.stringify(q)}: ${toFts5Match(queryTokens(q))}`);
});

test('random pieces of the corpus as queries: FTS5 and the in-memory evaluation agree with the brute-force scan', { skip }, (t) => {
  const search = fts5();
  // a fixed seed keeps failures reproducible; the raw (not normalized) substrings also exercise folding
  let seed = 20240601;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let withoutLetters = 0;
  for (let i = 0; i < 300; i++) {
    const source = messages[Math.floor(random() * messages.length)]!;
    const start = Math.floor(random() * source.text.length);
    const query = source.text.slice(start, start + 1 + Math.floor(random() * 8));
    const expected = ids(messages.filter(referenceMatcher(query)));
    assert.deepEqual(search(query), expected, `FTS5 ${JSON.stringify(query)}: ${toFts5Match(queryTokens(query))}`);
    const tokens = queryTokens(query);
    assert.deepEqual(ids(messages.filter((m) => matchTokens(m.tokens, tokens))), expected, `in memory ${JSON.stringify(query)}`);
    // without letters every rule is a substring rule, so the message the query was cut from must be found
    if (tokens.terms.length > 0 && !/\p{L}/u.test(normalize(query).replace(new RegExp(`[${CJK_CLASS}]`, 'gv'), ''))) {
      withoutLetters++;
      assert.ok(expected.includes(source.id), `${JSON.stringify(query)} does not find its own message`);
    }
  }
  t.diagnostic(`300 sampled queries, ${withoutLetters} without letters found their source message`);
});

const pgSkip = skip || (testDialects().includes('postgres') ? false : 'KEFU_TEST_PG_URL not set');
test('PostgreSQL tsvector with a GIN index finds the same messages', { skip: pgSkip }, async () => {
  const client = new pg.Client({ connectionString: process.env.KEFU_TEST_PG_URL });
  await client.connect();
  try {
    await client.query('create temporary table doc (id integer primary key, v tsvector not null)');
    for (let i = 0; i < messages.length; i += 5000) {
      const batch = messages.slice(i, i + 5000);
      await client.query(`insert into doc select id, to_tsvector('simple', t) from unnest($1::integer[], $2::text[]) as x(id, t)`, [ids(batch), batch.map((m) => indexText(m.text))]);
    }
    await client.query('create index on doc using gin (v)');
    await client.query('analyze doc');
    await client.query('set enable_seqscan = off');
    for (const q of ALL_QUERIES) {
      const tsquery = toTsQuery(queryTokens(q));
      const found = tsquery === null ? [] : (await client.query('select id from doc where v @@ $1::tsquery order by id', [tsquery])).rows.map((r) => r.id as number);
      assert.deepEqual(found, referenceIds.get(q), `${JSON.stringify(q)}: ${tsquery}`);
    }
  } finally {
    await client.end();
  }
});

test('throughput and index size on the corpus', { skip }, (t) => {
  const texts = messages.map((m) => m.text);
  const chars = texts.reduce((n, s) => n + s.length, 0);
  const rawBytes = texts.reduce((n, s) => n + Buffer.byteLength(s), 0);
  const time = (f: (s: string) => unknown) => {
    const start = performance.now();
    for (const s of texts) f(s);
    return (performance.now() - start) / 1000;
  };
  time(indexText); // warm the caches and the JIT
  const normalizeSeconds = time(normalize);
  const indexSeconds = time(indexText);
  t.diagnostic(`${messages.length} messages, ${chars} chars, ${rawBytes} bytes UTF-8`);
  t.diagnostic(`normalize: ${Math.round(chars / normalizeSeconds / 1000)}k chars/s; indexText: ${Math.round(chars / indexSeconds / 1000)}k chars/s`);
  for (const [name, list] of [['zh', zhMessages], ['en', enMessages]] as const) {
    const tokens = list.reduce((n, m) => n + m.tokens.length, 0);
    const words = list.reduce((n, m) => n + m.tokens.filter((tok) => tok.startsWith('w')).length, 0);
    const raw = list.reduce((n, m) => n + Buffer.byteLength(m.text), 0);
    const stored = list.reduce((n, m) => n + m.tokens.join(' ').length, 0);
    t.diagnostic(`${name}: ${(tokens / list.length).toFixed(1)} tokens per message (${(words / list.length).toFixed(1)} jieba words); stored ${stored} bytes = ${(stored / raw).toFixed(2)} x raw UTF-8`);
  }
  // very loose: a regression by an order of magnitude, not machine noise
  assert.ok(chars / indexSeconds > 200_000, 'indexing slower than 200k chars/s');
});
