import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase } from '../../test/support/databases.ts';
import { openStore } from './index.ts';
import { executeShaped, rowValues } from './shaped-statements.ts';

test('a shaped statement is built once and binds later values to the same text; values out of order fail at the first build', async () => {
  const d = await freshDatabase('sqlite');
  const store = await openStore({ dataDir: d.dataDir });
  try {
    const rows = (a: number) => [
      { name: `shape-a${a}`, value: a },
      { name: `shape-b${a}`, value: a + 1 },
    ];
    let builds = 0;
    const insert = (r: ReturnType<typeof rows>) =>
      executeShaped(store.db, 'test.insert:sqlite:2', rowValues(r, ['name', 'value']), () => {
        builds++;
        return store.db.insertInto('search_index_state').values(r);
      });
    await insert(rows(1));
    await insert(rows(10));
    assert.equal(builds, 1);
    const stored = await store.db.selectFrom('search_index_state').selectAll().where('name', 'like', 'shape-%').orderBy('value').execute();
    assert.deepEqual(stored.map((s) => [s.name, Number(s.value)]), [['shape-a1', 1], ['shape-b1', 2], ['shape-a10', 10], ['shape-b10', 11]]);
    await assert.rejects(
      executeShaped(store.db, 'test.misordered:sqlite:2', rowValues(rows(20), ['value', 'name']), () => store.db.insertInto('search_index_state').values(rows(20))),
      /not in the order Kysely binds them/,
    );
  } finally {
    await store.close();
    await d.drop();
  }
});
