/** Rows for the distinct keys, one bounded IN list at a time (both dialects limit bound parameters per statement). */
export async function inChunks<T>(keys: readonly string[], query: (chunk: string[]) => Promise<T[]>, size = 500): Promise<T[]> {
  const unique = [...new Set(keys)];
  const out: T[] = [];
  for (let i = 0; i < unique.length; i += size) out.push(...(await query(unique.slice(i, i + size))));
  return out;
}
