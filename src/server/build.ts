import fs from 'node:fs';
import path from 'node:path';
import { ROOT_DIR, WEB_DIST, WIDGET_DIST } from './app.ts';

function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  const stat = fs.statSync(dir);
  if (stat.isFile()) return stat.mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function isStale(sources: string[], output: string): boolean {
  if (!fs.existsSync(output)) return true;
  const built = fs.statSync(output).mtimeMs;
  return sources.some((s) => newestMtime(path.join(ROOT_DIR, s)) > built);
}

export async function buildWidget(): Promise<void> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(ROOT_DIR, 'widget/src/widget.ts')],
    bundle: true,
    format: 'iife',
    minify: true,
    target: 'es2019',
    outfile: path.join(WIDGET_DIST, 'widget.js'),
    logLevel: 'warning',
  });
}

export async function buildWeb(): Promise<void> {
  const vite = await import('vite');
  await vite.build({ configFile: path.join(ROOT_DIR, 'web/vite.config.ts'), logLevel: 'warn' });
}

/** Builds the console and the widget; with onlyIfStale, skips a part whose output is newer than its sources. */
export async function buildAll(opts: { onlyIfStale?: boolean } = {}): Promise<void> {
  const widgetOut = path.join(WIDGET_DIST, 'widget.js');
  if (!opts.onlyIfStale || isStale(['widget/src'], widgetOut)) {
    process.stderr.write('building widget…\n');
    await buildWidget();
  }
  const webOut = path.join(WEB_DIST, 'index.html');
  if (!opts.onlyIfStale || isStale(['web/src', 'web/index.html', 'web/vite.config.ts'], webOut)) {
    process.stderr.write('building console (vite)…\n');
    await buildWeb();
  }
}
