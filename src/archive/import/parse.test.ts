import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { LineReader, type Line } from './lines.ts';
import { CsvRowParser, parseCsv } from './parse-csv.ts';
import { parseJsonl } from './parse-jsonl.ts';
import { ImportError, parseTime, TURN_GAP_MS, type Parsed } from './record.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

/** the file as byte chunks of a given size, so multi-byte characters and CRLFs are split across chunks */
function chunks(text: string | Buffer, size = 3): AsyncIterable<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function lines(text: string | Buffer, size = 3, max?: number): Promise<Line[]> {
  const out: Line[] = [];
  for await (const l of new LineReader(chunks(text, size), max)) out.push(l);
  return out;
}

async function all(gen: AsyncIterable<Parsed>): Promise<Parsed[]> {
  const out: Parsed[] = [];
  for await (const p of gen) out.push(p);
  return out;
}

const csv = (text: string, size = 5) => all(parseCsv(new LineReader(chunks(text, size)), NOW));

function rows(text: string) {
  const p = new CsvRowParser();
  const out = [];
  text.split('\n').forEach((l, i) => {
    const r = p.feed(i + 1, l);
    if (r) out.push(r);
  });
  const last = p.end();
  if (last) out.push(last);
  return out;
}

describe('reading lines', () => {
  test('lines are cut at LF, keep a CR, drop a leading BOM, and survive characters split across chunks', async () => {
    const got = await lines('\uFEFF退款\r\n发票\n\nlast', 2);
    assert.deepEqual(got, [
      { no: 1, text: '退款\r' },
      { no: 2, text: '发票' },
      { no: 3, text: '' },
      { no: 4, text: 'last' },
    ]);
  });

  test('invalid UTF-8 and overlong lines are reported with their numbers and reading goes on', async () => {
    const got = await lines(Buffer.concat([Buffer.from('ok\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('x'.repeat(50) + '\nfine\n')]), 4, 20);
    assert.deepEqual(got, [
      { no: 1, text: 'ok' },
      { no: 2, error: 'line is not valid UTF-8' },
      { no: 3, error: 'line is longer than 20 bytes' },
      { no: 4, text: 'fine' },
    ]);
  });
});

describe('CSV rows (RFC 4180)', () => {
  test('quoted fields hold commas, doubled quotes and line breaks; CRLF ends a row', () => {
    const got = rows('a,"b,c","say ""hi""","two\r\nlines"\r\nd,,"",e\r');
    assert.deepEqual(got, [
      { line: 1, fields: ['a', 'b,c', 'say "hi"', 'two\r\nlines'] },
      { line: 3, fields: ['d', '', '', 'e'] },
    ]);
  });

  test('a quote inside an unquoted field is a character; text after a closing quote is an error', () => {
    const got = rows('5" screen,x\n"a"b,y\nnext,z');
    assert.deepEqual(got[0], { line: 1, fields: ['5" screen', 'x'] });
    assert.equal(got[1]!.line, 2);
    assert.match(got[1]!.error!, /after a closing quote/);
    assert.deepEqual(got[2], { line: 3, fields: ['next', 'z'] });
  });

  test('a quoted field still open at the end of the file is reported at its row', () => {
    const got = rows('a,b\n"never closed,x\nmore');
    assert.equal(got.length, 2);
    assert.match(got[1]!.error!, /row at line 2 is not closed at the end of the file/);
  });

  test('blank lines between rows are skipped', () => {
    assert.deepEqual(rows('a\n\n\r\nb').map((r) => r.fields), [['a'], ['b']]);
  });
});

describe('CSV conversations', () => {
  const header = 'conversation_id,channel,agent,role,time,type,text\r\n';

  test('contiguous rows form one conversation; empty cells take the defaults', async () => {
    const got = await csv(`${header}c1,web,li,customer,2025-01-01T00:00:00Z,,你好\r\nc1,,,agent,,,"在的,请讲"\r\nc2,,,customer,,image,p.png\r\n`);
    assert.equal(got.length, 2);
    const [a, b] = got.map((p) => (p.ok ? p.record : assert.fail(JSON.stringify(p))));
    assert.equal(a!.externalId, 'c1');
    assert.equal(a!.channel, 'web');
    assert.equal(a!.agent, 'li');
    assert.deepEqual(
      a!.turns.map((t) => [t.role, t.text, t.at, t.agent]),
      [
        ['customer', '你好', Date.parse('2025-01-01T00:00:00Z'), null],
        ['agent', '在的,请讲', Date.parse('2025-01-01T00:00:00Z') + TURN_GAP_MS, 'li'],
      ],
    );
    assert.equal(b!.channel, 'import');
    assert.equal(b!.turns[0]!.type, 'image');
    assert.equal(b!.customer.name, '导入客户 c2');
  });

  test('a bad row spoils its whole conversation and is reported at its own line', async () => {
    const got = await csv(`${header}c1,,,customer,,,ok\r\nc1,,,robot,,,bad role\r\nc1,,,customer,,,after\r\nc2,,,customer,,,fine\r\nc2,,,customer\r\n`);
    assert.deepEqual(
      got.map((p) => (p.ok ? p.record.externalId : p.bad)),
      [
        { line: 3, id: 'c1', reason: 'role must be one of customer, agent, bot, system (got "robot")' },
        { line: 6, id: 'c2', reason: 'expected 7 fields as in the header, found 4' },
      ],
    );
  });

  test('rows of a conversation that disagree on a conversation column are refused', async () => {
    const got = await csv(`${header}c1,web,,customer,,,a\r\nc1,email,,customer,,,b\r\n`);
    assert.equal(got[0]!.ok, false);
    assert.match((got[0] as { bad: { reason: string } }).bad.reason, /^channel "email" differs from "web" at line 2/);
  });

  test('a header with an unknown or missing column stops the import before anything is read', async () => {
    await assert.rejects(csv('conversation_id,role,txet\r\nc1,customer,x\r\n'), (e) => e instanceof ImportError && /unknown column "txet"/.test(e.message));
    await assert.rejects(csv('conversation_id,role\r\nc1,customer\r\n'), (e) => e instanceof ImportError && /lacks the column text/.test(e.message));
    await assert.rejects(csv(''), ImportError);
  });
});

describe('JSON Lines records', () => {
  const jsonl = (text: string) => all(parseJsonl(new LineReader(chunks(text, 7)), NOW));

  test('without any time a conversation ends at the import start, 30 s between messages', async () => {
    const [p] = await jsonl('{"id":"x","turns":[{"role":"customer","text":"a"},{"role":"agent","text":"b"},{"role":"customer","text":"c"}]}\n');
    assert.ok(p!.ok);
    assert.equal(p.record.startedAt, NOW - 2 * TURN_GAP_MS);
    assert.deepEqual(p.record.turns.map((t) => t.at), [NOW - 2 * TURN_GAP_MS, NOW - TURN_GAP_MS, NOW]);
  });

  test('a dated turn anchors the undated ones around it', async () => {
    const [p] = await jsonl('{"id":"x","turns":[{"role":"customer","text":"a"},{"role":"agent","text":"b","at":"2025-06-01T12:00:00+08:00"},{"role":"customer","text":"c"}]}\n');
    assert.ok(p!.ok);
    const t = Date.parse('2025-06-01T04:00:00Z');
    assert.deepEqual(p.record.turns.map((x) => x.at), [t - TURN_GAP_MS, t, t + TURN_GAP_MS]);
  });

  test('text must be storable: NUL and lone surrogates are refused', async () => {
    const got = await jsonl('{"id":"a","turns":[{"role":"customer","text":"x\\u0000y"}]}\n{"id":"b","turns":[{"role":"customer","text":"\\ud800"}]}\n');
    assert.deepEqual(
      got.map((p) => !p.ok && p.bad.reason),
      ['turns[0].text contains a NUL character', 'turns[0].text is not valid Unicode (lone surrogate)'],
    );
  });
});

describe('ISO 8601 times', () => {
  test('offsets, Z, fractions and a space separator are read; impossible dates are not', () => {
    assert.equal(parseTime('2025-03-01T10:00:00+08:00'), Date.parse('2025-03-01T02:00:00Z'));
    assert.equal(parseTime('2025-03-01 10:00:00.250Z'), Date.parse('2025-03-01T10:00:00.250Z'));
    assert.equal(parseTime('2025-03-01T10:00-0530'), Date.parse('2025-03-01T15:30:00Z'));
    assert.equal(parseTime('2025-02-29T00:00:00Z'), null);
    assert.equal(parseTime('2024-02-29T00:00:00Z'), Date.parse('2024-02-29T00:00:00Z'));
    assert.equal(parseTime('yesterday'), null);
    assert.equal(parseTime('2025-13-01'), null);
  });
});
