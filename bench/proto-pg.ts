/**
 * Prototype for the PostgreSQL side of the search proposal (docs/BENCHMARKS.md, "Archive search"): the index table
 * carries the message time, so a time filter, the newest-first order and the capped count need no join with message.
 *   proto_search(message_id, created_at, tsv)   copied from message_search ⋈ message
 *   proto_search_gin   GIN (tsv, created_at) — btree_gin, so a word and a time range are one bitmap index scan
 *   proto_search_time  btree (created_at desc, message_id desc) — newest first with the word as a filter
 * Built in the throwaway cluster of bench/pg-cluster.ts beside an archive from bench/archive-generator.ts.
 *
 *   npx tsx bench/proto-pg.ts --database-url postgres://…
 */
import pg from 'pg';

const i = process.argv.indexOf('--database-url');
const url = i < 0 ? undefined : process.argv[i + 1];
if (!url) throw new Error('--database-url is required');
const client = new pg.Client({ connectionString: url });
await client.connect();
const step = async (label: string, text: string) => {
  const t = performance.now();
  await client.query(text);
  console.log(`${label}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
};
await step('extension', 'create extension if not exists btree_gin');
await step('drop', 'drop table if exists proto_search');
await step('copy', 'create table proto_search as select s.message_id, m.created_at, s.tsv from message_search s join message m on m.id = s.message_id');
await step('maintenance_work_mem', "set maintenance_work_mem = '256MB'");
await step('gin (tsv, created_at)', 'create index proto_search_gin on proto_search using gin (tsv, created_at)');
await step('btree (created_at desc, message_id desc)', 'create index proto_search_time on proto_search (created_at desc, message_id desc)');
await step('vacuum analyze', 'vacuum analyze proto_search');
const { rows } = await client.query(
  "select pg_total_relation_size('proto_search') as total, pg_relation_size('proto_search_gin') as gin, pg_relation_size('proto_search_time') as time",
);
console.log(JSON.stringify(rows[0]));
await client.end();
