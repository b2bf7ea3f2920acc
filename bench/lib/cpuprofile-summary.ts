/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function, and inclusive time of chosen functions.
 *
 *   npx tsx bench/lib/cpuprofile-summary.ts FILE.cpuprofile [--top 30] [--inclusive indexText,chainHash,…]
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
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function summarise(file: string, inclusiveNames: string[], top = 30): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? path.basename(n.callFrame.url) + ':' + (n.callFrame.lineNumber + 1) : ''}`.trim();
  const self = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const k = label(byId.get(id)!);
    self.set(k, (self.get(k) ?? 0) + us);
  }
  // inclusive: a sample counts once for a name if any frame on its stack has that name (recursion counted once)
  const incl = new Map<string, number>(inclusiveNames.map((n) => [n, 0]));
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const fn = byId.get(cur)!.callFrame.functionName;
      if (incl.has(fn) && !seen.has(fn)) {
        seen.add(fn);
        incl.set(fn, incl.get(fn)! + us);
      }
    }
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(7)} s`;
  const out = [`${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`, '', 'inclusive:'];
  for (const [n, us] of incl) out.push(`  ${pct(us)}  ${n}`);
  out.push('', `self (top ${top}):`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`  ${pct(us)}  ${k}`);
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith('cpuprofile-summary.ts')) {
  const file = process.argv[2]!;
  const i = process.argv.indexOf('--inclusive');
  const names = i > 0 ? process.argv[i + 1]!.split(',') : [];
  const t = process.argv.indexOf('--top');
  console.log(summarise(file, names, t > 0 ? Number(process.argv[t + 1]) : 30));
}
