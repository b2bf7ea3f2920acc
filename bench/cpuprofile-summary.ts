/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. the kefu server under `bench/message-path.ts --profile`):
 * where the main thread's time went, by package/area (self time) and by function (self and inclusive time).
 *
 *   npx tsx bench/cpuprofile-summary.ts <file.cpuprofile> [--window <fromUs>-<toUs>] [--top 25]
 *
 * --window keeps only samples taken between two CLOCK_MONOTONIC µs readings (V8 profile timestamps use the same
 * clock on Linux); bench/message-path.ts writes the measured windows to windows.json beside the profile and the
 * summary uses it when present.
 */
import fs from 'node:fs';
import path from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: bench/cpuprofile-summary.ts <file.cpuprofile> [--window from-to] [--top N]\n');
  process.exit(2);
}
const argAfter = (n: string) => {
  const i = process.argv.indexOf(`--${n}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const top = Number(argAfter('top') ?? 25);
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;

let windows: Array<{ label: string; from: number; to: number }> = [];
const w = argAfter('window');
if (w) {
  const [a, b] = w.split('-').map(Number);
  windows = [{ label: 'window', from: a!, to: b! }];
} else {
  const side = path.join(path.dirname(file), 'windows.json');
  if (fs.existsSync(side)) windows = JSON.parse(fs.readFileSync(side, 'utf8'));
}

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function area(n: Node): string {
  const { url, functionName } = n.callFrame;
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (idle), (program)
    return `native: ${functionName}`;
  }
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) {
    const pkg = m[1]!;
    if (['socket.io', 'engine.io', 'ws', 'socket.io-parser', 'socket.io-adapter'].includes(pkg)) return `socket.io stack (${pkg})`;
    return pkg;
  }
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  const src = url.match(/\/src\/(.*)$/);
  if (src) return `kefu src/${src[1]}`;
  return url.replace(/^file:\/\//, '');
}
const fnKey = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${area(n)}:${n.callFrame.lineNumber + 1}`;

function summarise(label: string, from: number, to: number) {
  const selfByArea = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  const inclByFn = new Map<string, number>();
  let t = prof.startTime;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]!;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (t < from || t >= to) continue;
    const node = byId.get(prof.samples[i]!)!;
    total += dt;
    selfByArea.set(area(node), (selfByArea.get(area(node)) ?? 0) + dt);
    selfByFn.set(fnKey(node), (selfByFn.get(fnKey(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = fnKey(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclByFn.set(k, (inclByFn.get(k) ?? 0) + dt);
    }
  }
  const idle = selfByArea.get('(idle)') ?? 0;
  const busy = total - idle;
  const pct = (v: number) => `${((v / total) * 100).toFixed(1).padStart(5)}%`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .filter(([k]) => k !== '(idle)' && !k.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `  ${pct(v)}  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`)
      .join('\n');
  process.stdout.write(`\n=== ${label}: ${(total / 1e6).toFixed(1)} s sampled, main thread busy ${((busy / total) * 100).toFixed(1)}% (idle ${((idle / total) * 100).toFixed(1)}%)\n`);
  process.stdout.write(`-- self time by area\n${rows(selfByArea, 20)}\n`);
  process.stdout.write(`-- self time by function\n${rows(selfByFn, top)}\n`);
  process.stdout.write(`-- inclusive time by function\n${rows(inclByFn, top)}\n`);
}

const end = prof.startTime + prof.timeDeltas.reduce((a, b) => a + b, 0);
const usable = windows.filter((x) => x.to > prof.startTime && x.from < end);
if (usable.length === 0) {
  if (windows.length > 0) process.stderr.write('measured windows do not overlap the profile; summarising all samples\n');
  summarise('whole profile', -Infinity, Infinity);
} else for (const x of usable) summarise(x.label, x.from, x.to);
