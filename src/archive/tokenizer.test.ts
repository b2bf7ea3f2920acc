import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Converter } from 'opencc-js/t2cn';
import {
  DIGIT_WINDOW,
  LETTER_LIMIT,
  indexText,
  indexTokens,
  matchTokens,
  normalize,
  normalizeWithOffsets,
  originalRange,
  queryTokens,
  toFts5Match,
  toTsQuery,
} from './index.ts';

const finds = (message: string, query: string) => matchTokens(indexTokens(message), queryTokens(query));
const SAFE = /^[a-z][0-9a-z]*$/;

test('normalize folds width, case, traditional characters and invisible marks', () => {
  assert.equal(normalize('ＡＢＣ　１２３，ｉＰｈｏｎｅ！？（）'), 'abc 123,iphone!?()');
  assert.equal(normalize('發票 寬帶 質量 退還 退款 網絡 什麼'), '发票 宽带 质量 退还 退款 网络 什么');
  // one representative across HK and TW conventions, and simplified text stays as it is
  assert.equal(normalize('著'), normalize('着'));
  assert.equal(normalize('麼'), normalize('么'));
  const simplified = '您好,您反映的情况我们已认真记录,会及时向相关部门反馈,敬请等待[呵呵]。着么';
  assert.equal(normalize(simplified), simplified);
  assert.equal(normalize('Café CAFE\u0301 Straße'), 'cafe cafe straße');
  assert.equal(normalize('退\u200b款❤️1️⃣'), '退款❤1');
  assert.equal(normalize('ｶﾀｶﾅ か\u3099'), 'カタカナ が');
  for (const s of ['發票ＡＢＣ', '㎡…ﬁ', 'İstanbul', '👍🏻[呵呵]']) assert.equal(normalize(normalize(s)), normalize(s), s);
});

test('Han folding agrees with OpenCC: a character and its hk/tw/t → cn conversion fold alike', () => {
  const converters = (['hk', 'tw', 't'] as const).map((from) => Converter({ from, to: 'cn' }));
  const disagreements: string[] = [];
  for (let cp = 0x3400; cp <= 0x9fff; cp++) {
    const c = String.fromCodePoint(cp);
    for (const convert of converters) {
      const converted = convert(c);
      if ([...converted].length === 1 && normalize(converted) !== normalize(c)) disagreements.push(`${c}→${converted}`);
    }
  }
  assert.deepEqual(disagreements, []);
});

test('normalizeWithOffsets maps every folded character back to the original for highlighting', () => {
  const original = '面积１００㎡…發票';
  const n = normalizeWithOffsets(original);
  assert.equal(n.text, '面积100m2...发票');
  const at = (s: string) => {
    const i = n.text.indexOf(s);
    const [from, to] = originalRange(n, i, i + s.length);
    return original.slice(from, to);
  };
  assert.equal(at('100'), '１００');
  assert.equal(at('m'), '㎡'); // half of an expansion highlights the whole source character
  assert.equal(at('2..'), '㎡…');
  assert.equal(at('发票'), '發票');
  const combining = normalizeWithOffsets('cafe\u0301!');
  assert.deepEqual(originalRange(combining, 3, 4), [3, 5]);
});

test('没收到 is found by 收到 and every other piece of it', () => {
  const message = '快递显示已签收,可我还没收到货！';
  for (const q of ['收到', '没收到', '收', '到货', '签收', '没收到货', '快递 收到']) assert.ok(finds(message, q), q);
  for (const q of ['收货', '没到', '退款']) assert.ok(!finds(message, q), q);
});

test('traditional and simplified find each other', () => {
  assert.ok(finds('請盡快退還款項,我要退款', '退还'));
  assert.ok(finds('請盡快退還款項,我要退款', '退款'));
  assert.ok(finds('我要退款', '退款'));
  assert.ok(finds('我需要開發票', '发票'));
  assert.ok(finds('我需要开发票', '發票'));
  assert.ok(finds('寬帶質量太差', '宽带 质量'));
});

test('full-width digits and letters are the same as ASCII', () => {
  assert.ok(finds('订单号：１２３４５６７８', '12345678'));
  assert.ok(finds('订单号：１２３４５６７８', '5678'));
  assert.ok(finds('订单号：12345678', '５６７８'));
  assert.ok(finds('订单号：12345678', '订单号１２３'));
  assert.ok(finds('我用的ｉＰｈｏｎｅ６', 'iphone6'));
});

test('numbers: any part of a digit run, with spaces or hyphens inside the number', () => {
  const message = '我的电话是138-1234-5678,尽快回电';
  for (const q of ['13812345678', '5678', '1234', '138-1234', '812345', '电话是138', '5678,尽快']) assert.ok(finds(message, q), q);
  assert.ok(finds('电话 138 1234 5678', '13812345678'));
  for (const end of ['123 ', '123-', '123']) assert.deepEqual(indexTokens(end), ['n123', 'n23', 'n3', 'r321']);
  assert.ok(!finds(message, '56789'));
  const long = '流水号 1234567890123456789012345 已受理';
  assert.ok(long.replace(/\D/g, '').length > DIGIT_WINDOW);
  assert.ok(finds(long, '2345678901234567890123'));
  assert.ok(finds(long, '1234567890123456789012345'));
  assert.ok(finds(long, '号1234567890123456789012345已'));
  assert.ok(!finds(long, '2345678901234567890124'));
  assert.ok(!finds(long, '号234567890123456789012345'));
});

test('Latin words match from their start', () => {
  const message = 'My iPhone12 has no Signal; refunds please';
  for (const q of ['iphone', 'IPH', 'iphone12', 'iphone1', '12', 'signal', 'sig', 'refund', 'REFUNDS', 'my iphone']) assert.ok(finds(message, q), q);
  for (const q of ['phone', 'phone12', 'fund', 'iphone13', 'signals']) assert.ok(!finds(message, q), q);
  const word = 'a'.repeat(LETTER_LIMIT + 10);
  assert.ok(finds(`x ${word} y`, word));
});

test('words of several pieces match consecutive runs', () => {
  const message = '办理4G套餐后,每月扣费30元';
  for (const q of ['4g', '4g套餐', 'g套餐', '理4g', '扣费30', '30元', '费30元']) assert.ok(finds(message, q), q);
  for (const q of ['4g餐', '14g', '扣费3元', '套餐4g']) assert.ok(!finds(message, q), q);
});

test('emoji, Weibo emoticons and symbols do not break anything', () => {
  const message = '好的[呵呵]😀👍🏻❤️谢谢#话题# @中国联通客服 http://t.cn/RhXyZ2';
  const tokens = indexTokens(message);
  assert.ok(tokens.every((t) => SAFE.test(t)), tokens.join(' '));
  for (const q of ['呵呵', '[呵呵]', '好的', '谢谢', '话题', '@中国联通', 't.cn', 'rhxyz2']) assert.ok(finds(message, q), q);
  assert.deepEqual(queryTokens('😀 👍🏻').terms, []);
  assert.ok(!finds(message, '😀'));
});

test('empty and whitespace-only input', () => {
  for (const s of ['', ' ', '\u3000\n\t ', '，。！']) {
    assert.deepEqual(indexTokens(s), []);
    assert.equal(indexText(s), '');
    const q = queryTokens(s);
    assert.deepEqual(q.terms, []);
    assert.equal(toFts5Match(q), null);
    assert.equal(toTsQuery(q), null);
    assert.equal(matchTokens(indexTokens('退款'), q), false);
  }
});

test('a 5000-character message is tokenized quickly and stays searchable at its end', () => {
  const sentence = '您好,您的宽带已恢复,订单号2014123456,如有问题请拨打10010,iPhone用户请重启路由器. ';
  const message = sentence.repeat(Math.ceil(5000 / sentence.length)).slice(0, 4990) + '最后一句话';
  indexTokens(message); // jieba loads its dictionary on first use
  const start = performance.now();
  const tokens = indexTokens(message);
  const ms = performance.now() - start;
  assert.ok(ms < 100, `${ms} ms`);
  assert.ok(tokens.length < 2 * message.length);
  assert.ok(matchTokens(tokens, queryTokens('最后一句话')));
  assert.ok(matchTokens(tokens, queryTokens('订单号2014123456')));
});

test('query strings for FTS5 and PostgreSQL', () => {
  assert.equal(toFts5Match(queryTokens('收到')), '"c65365230"');
  assert.equal(toFts5Match(queryTokens('收')), '"c6536" *');
  assert.equal(toFts5Match(queryTokens('退款 ref')), '"c90006b3e" AND "lref" *');
  assert.equal(toFts5Match(queryTokens('4g')), '"r4" * + "lg" *');
  assert.equal(toTsQuery(queryTokens('4g 没收到')), "('r4':* <-> 'lg':*) & ('c6ca16536' <-> 'c65365230')");
  assert.equal(toTsQuery(queryTokens('5678')), "'n5678':*");
  assert.deepEqual(queryTokens('宽带 宽带').terms.length, 1);
  assert.ok(queryTokens('中国电信').rank.length > 0);
});

test('user input cannot inject query syntax', () => {
  const db = new Database(':memory:');
  try {
    db.exec('create virtual table doc using fts5(tokens)');
    db.prepare('insert into doc(tokens) values (?)').run(indexText('退款 and or not near 12'));
    const search = db.prepare('select count(*) as n from doc where doc match ?');
    for (const q of ['"退款"', '退款*', 'AND', 'OR 退款', 'NOT 12', 'NEAR(退款 12)', "'; drop table doc; --", 'a:*', '!&|<->', '\\', '{tokens}: 12', '^12', '(', '退款"OR"1']) {
      const tokens = queryTokens(q);
      assert.ok(tokens.terms.every((t) => t.phrase.every((p) => SAFE.test(p.token))), q);
      const match = toFts5Match(tokens);
      if (match !== null) assert.doesNotThrow(() => search.get(match), q);
      const tsquery = toTsQuery(tokens);
      if (tsquery !== null) assert.match(tsquery, /^[a-z0-9'():*&<>| -]+$/, q);
    }
  } finally {
    db.close();
  }
});
