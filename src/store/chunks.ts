/** Rows for the distinct keys, one bounded IN list at a time (both dialects limit bound parameters per statement). */
export async function inChunks<T>(keys: readonly string[], query: (chunk: string[]) => Promise<T[]>, size = 500): Promise<T[]> {
  const unique = [...new Set(keys)];
  const out: T[] = [];
  for (let i = 0; i < unique.length; i += size) out.push(...(await query(unique.slice(i, i + size))));
  return out;
}

/**
 * Splits rows into chunks whose sizes are powers of two (at most `max`), largest first. A statement built for n rows
 * has the same SQL text as the last one built for n rows, so SQLite's prepared-statement cache (store/db.ts) serves
 * it: a group commit of 44 messages is three inserts (32, 8, 4) instead of one that is compiled afresh for every new
 * row count (preparing was 5% of the message writer's time).
 */
export function powerOfTwoChunks<T>(rows: readonly T[], max = 256): T[][] {
  const out: T[][] = [];
  let i = 0;
  while (i < rows.length) {
    let size = max;
    while (size > rows.length - i) size >>= 1;
    out.push(rows.slice(i, i + size));
    i += size;
  }
  return out;
}

/** An IN list padded to the next power of two by repeating its last value (same result, same SQL text for nearby sizes). */
export function padToPowerOfTwo<T>(values: readonly T[]): T[] {
  if (values.length === 0) return [];
  let size = 1;
  while (size < values.length) size <<= 1;
  const out = values.slice();
  while (out.length < size) out.push(values[values.length - 1]!);
  return out;
}
