import { sql, type Kysely } from 'kysely';
import type { DialectName } from './index.ts';
import { powerOfTwoChunks } from '../chunks.ts';
import { executeShaped, rowValues } from '../shaped-statements.ts';

/**
 * One UPDATE for many rows, each with its own values, matched by a key column: `update t set a = v.a … from (rows) v
 * where t.key = v.key`. The group commit updates every conversation of a batch at once instead of one statement each.
 * `pgTypes` names each column's PostgreSQL type (the rows travel as typed arrays through unnest).
 */
export async function updateRowsByKey<R extends Record<string, unknown>>(
  trx: Kysely<any>,
  dialect: DialectName,
  table: string,
  key: keyof R & string,
  pgTypes: Record<keyof R & string, string>,
  rows: R[],
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(pgTypes) as Array<keyof R & string>;
  const sets = sql.join(
    columns.filter((c) => c !== key).map((c) => sql`${sql.ref(c)} = v.${sql.ref(c)}`),
    sql`, `,
  );
  const names = sql.join(columns.map((c) => sql.ref(c)));
  // chunks keep each statement below SQLite's bound-parameter limit, in a few sizes (powerOfTwoChunks)
  for (const chunk of powerOfTwoChunks(rows)) {
    const shape = `update-rows:${dialect}:${table}:${columns.join(',')}:${chunk.length}`;
    if (dialect === 'sqlite') {
      await executeShaped(trx, shape, rowValues(chunk, columns), () => {
        const values = sql.join(chunk.map((r) => sql`(${sql.join(columns.map((c) => r[c]))})`));
        return sql`with v(${names}) as (values ${values}) update ${sql.table(table)} set ${sets} from v where ${sql.table(table)}.${sql.ref(key)} = v.${sql.ref(key)}`;
      });
    } else {
      const arrays = columns.map((c) => chunk.map((r) => r[c]));
      await executeShaped(trx, shape, arrays, () => {
        const typed = sql.join(arrays.map((a, i) => sql`${a}::${sql.raw(pgTypes[columns[i]!])}[]`));
        return sql`update ${sql.table(table)} set ${sets} from unnest(${typed}) as v(${names}) where ${sql.table(table)}.${sql.ref(key)} = v.${sql.ref(key)}`;
      });
    }
  }
}
