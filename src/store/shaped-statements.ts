import { CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import { isDeepStrictEqual } from 'node:util';

/**
 * Statements of the message path whose SQL text depends only on their shape (a table, its columns, how many rows)
 * and not on their values. Kysely builds and compiles a query afresh at every call, about a microsecond per bound
 * value: for a group commit that was a tenth of the writer thread's time (docs/BENCHMARKS.md, "Message path"). Here
 * Kysely builds a shape once, for the handle's dialect, and later statements of that shape bind their own values to
 * the same text.
 *
 * The caller names the shape (including the dialect: the texts differ) and gives the values in the order the
 * statement binds them; the first build checks that order against Kysely's own, so a mistake fails at once instead of
 * binding values to the wrong columns.
 */
const texts = new Map<string, string>();

/** a query builder or a sql`` template (which compiles against a handle) */
type Buildable<R> = { compile(executorProvider: Kysely<any>): CompiledQuery<R> };

export async function executeShaped<R>(db: Kysely<any>, shape: string, values: readonly unknown[], build: () => Buildable<R>): Promise<QueryResult<R>> {
  let text = texts.get(shape);
  if (text === undefined) {
    const compiled = build().compile(db);
    if (!isDeepStrictEqual(compiled.parameters, values)) {
      throw new Error(`statement shape ${shape}: the values are not in the order Kysely binds them (${JSON.stringify(compiled.parameters).slice(0, 200)})`);
    }
    text = compiled.sql;
    texts.set(shape, text);
  }
  return db.executeQuery<R>(CompiledQuery.raw(text, values as unknown[]));
}

/** The values of rows, row by row, in the order of `columns`: what a multi-row INSERT binds. A missing value is NULL. */
export function rowValues<R>(rows: readonly R[], columns: ReadonlyArray<keyof R>): unknown[] {
  const out: unknown[] = new Array(rows.length * columns.length);
  let i = 0;
  for (const r of rows) for (const c of columns) out[i++] = r[c] ?? null;
  return out;
}
