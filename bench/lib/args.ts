import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Command-line flags of the bench scripts: `--name value`, or a bare `--name` meaning "true". */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}

/** A non-negative number flag; `10_000_000` is accepted. */
export function num(name: string, fallback: number): number {
  const v = flag(name);
  if (v === undefined) return fallback;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got ${v}`);
  return n;
}

/**
 * The kefu checkout a bench measures (`--kefu-root DIR`, default this one, e.g. a copy made by bench/patched-tree.sh)
 * and a loader of its modules by path relative to that root.
 */
export function kefuCheckout(): { root: string; load: <T>(rel: string) => Promise<T> } {
  const root = path.resolve(flag('kefu-root') ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'));
  return { root, load: async <T>(rel: string) => (await import(pathToFileURL(path.join(root, rel)).href)) as T };
}
