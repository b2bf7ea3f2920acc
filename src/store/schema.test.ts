import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { freshStore, testDialects } from '../../test/support/databases.ts';

// the search index is the one place where the dialects store differently (FTS5 tables vs a tsvector table)
const DIALECT_SPECIFIC = (table: string) => table.startsWith('message_fts') || table === 'message_search';

test('one migration set gives the same tables and columns in SQLite and PostgreSQL', { skip: testDialects().length < 2 && 'needs both dialects' }, async () => {
  const shapes: Record<string, string[]> = {};
  for (const dialect of testDialects()) {
    const store = await freshStore(dialect);
    try {
      const rows =
        dialect === 'sqlite'
          ? await sql<{ t: string; c: string }>`select m.name as t, p.name as c from sqlite_master m join pragma_table_info(m.name) p where m.type = 'table' and m.name not like 'sqlite_%' and m.name not like 'kefu_migration%'`.execute(store.db)
          : await sql<{ t: string; c: string }>`select table_name as t, column_name as c from information_schema.columns where table_schema = 'public' and table_name not like 'kefu_migration%'`.execute(store.db);
      shapes[dialect] = rows.rows.filter((r) => !DIALECT_SPECIFIC(r.t)).map((r) => `${r.t}.${r.c}`).sort();
    } finally {
      await store.drop();
    }
  }
  assert.ok(shapes.sqlite!.includes('message.hash'));
  assert.deepEqual(shapes.postgres, shapes.sqlite);
});
