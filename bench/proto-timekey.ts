/**
 * Prototype for the search proposal (docs/BENCHMARKS.md, "Archive search"): an FTS5 index whose rowid is a time key,
 * key = created_at (ms) × 1024 + n (n numbers messages of the same millisecond), so that "newest first" is FTS5's own
 * rowid order and a time filter is a rowid range. Built beside an archive from bench/archive-generator.ts, in a separate
 * file (<dir>/proto-timekey.sqlite, attached by bench/search.ts as `proto`), from the archive's messages re-tokenized
 * with the product's indexText — the same tokens the product's message_fts holds, only under other rowids.
 *   proto_fts(tokens)         contentless FTS5, same options as message_fts (contentless_delete=1, prefix='5')
 *   key_map(key, msg_rowid)   the time key → message.rowid of the archive
 * Written with synchronous=OFF in transactions of 50,000 messages (a scratch file, not the product's write path).
 *
 *   npx tsx bench/proto-timekey.ts --dir /tmp/kefu-bench-sqlite-10m
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { indexText } from '../src/archive/tokenizer.ts';
import { flag } from './lib/args.ts';

export const KEY_SHIFT = 1024;

const dir = flag('dir');
if (!dir) throw new Error('--dir is required');
const file = path.join(dir, 'proto-timekey.sqlite');
fs.rmSync(file, { force: true });
const main = new Database(path.join(dir, 'kefu.sqlite'), { readonly: true });
const proto = new Database(file);
proto.pragma('journal_mode = WAL');
proto.pragma('synchronous = OFF');
proto.exec(`create virtual table proto_fts using fts5(tokens, content='', contentless_delete=1, prefix='5');
            create table key_map (key integer primary key, msg_rowid integer not null);`);
const insFts = proto.prepare('insert into proto_fts (rowid, tokens) values (?, ?)');
const insMap = proto.prepare('insert into key_map (key, msg_rowid) values (?, ?)');
const rows = main.prepare(`select rowid, body, created_at from message indexed by message_created_idx where type != 'event' order by created_at, rowid`).iterate() as IterableIterator<{
  rowid: number;
  body: string;
  created_at: number;
}>;
const t0 = performance.now();
let n = 0;
let lastAt = -1;
let within = 0;
let batch: Array<[number, string, number]> = [];
const flush = proto.transaction((b: Array<[number, string, number]>) => {
  for (const [key, tokens, rowid] of b) {
    insFts.run(key, tokens);
    insMap.run(key, rowid);
  }
});
for (const r of rows) {
  within = r.created_at === lastAt ? within + 1 : 0;
  lastAt = r.created_at;
  if (within >= KEY_SHIFT) throw new Error('more than 1024 messages in one millisecond');
  batch.push([r.created_at * KEY_SHIFT + within, indexText(r.body), r.rowid]);
  n++;
  if (batch.length === 50_000) {
    flush(batch);
    batch = [];
    if (n % 1_000_000 === 0) console.log(`${n.toLocaleString('en-US')} messages, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}
flush(batch);
proto.pragma('wal_checkpoint(TRUNCATE)');
console.log(`done: ${n.toLocaleString('en-US')} messages in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${file} ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB`);
proto.close();
main.close();
