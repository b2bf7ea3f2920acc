import fs from 'node:fs';
import os from 'node:os';

/** Microseconds on CLOCK_MONOTONIC: the same clock in every process of this machine, so a timestamp written by one
 * process can be subtracted from a reading taken in another (the sender and the receiver of a message may differ). */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const GROWTH = 1.01;
const LN_GROWTH = Math.log(GROWTH);
const BUCKETS = 2600; // 1.01^2600 µs ≈ 50 days: nothing overflows

export interface HistogramJson {
  /** sparse [bucket, count] pairs */
  b: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Log-bucketed latency histogram in microseconds, 1 % relative resolution; mergeable across processes. */
export class Histogram {
  counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(us: number): void {
    const v = us > 0 ? us : 0;
    const i = v <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(v) / LN_GROWTH));
    this.counts[i]! += 1;
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(o: Histogram | HistogramJson): this {
    const h = o instanceof Histogram ? o : Histogram.fromJSON(o);
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += h.counts[i]!;
    this.count += h.count;
    this.sum += h.sum;
    this.min = Math.min(this.min, h.min);
    this.max = Math.max(this.max, h.max);
    return this;
  }

  /** upper bound of the bucket holding the p-th percentile (never above the exact max), in µs */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return Math.min(GROWTH ** i, this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** {count, p50, p99, max, mean} in milliseconds */
  summaryMs() {
    const ms = (us: number) => (Number.isFinite(us) ? Math.round(us / 10) / 100 : null);
    return { count: this.count, p50: ms(this.percentile(50)), p90: ms(this.percentile(90)), p99: ms(this.percentile(99)), max: ms(this.max), mean: ms(this.mean()) };
  }

  toJSON(): HistogramJson {
    const b: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) b.push([i, this.counts[i]!]);
    return { b, count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  static fromJSON(j: HistogramJson): Histogram {
    const h = new Histogram();
    for (const [i, c] of j.b) h.counts[i] = c;
    h.count = j.count;
    h.sum = j.sum;
    h.min = j.min ?? Infinity;
    h.max = j.max;
    return h;
  }
}

const CLK_TCK = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; undefined once it is gone */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may contain spaces: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** a thread's scheduler totals from /proc/<pid>/task/<tid>/schedstat: seconds on a CPU and seconds runnable but
 * waiting for one (CPU contention); undefined when unavailable */
export function threadSchedSeconds(pid: number, tid = pid): { onCpu: number; waiting: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { onCpu: run! / 1e9, waiting: wait! / 1e9 };
  } catch {
    return undefined;
  }
}

/** seconds on a CPU of every thread of a process, by thread id (threads that have ended are missing) */
export function threadsOnCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = threadSchedSeconds(pid, Number(tid));
    if (s) out.set(Number(tid), s.onCpu);
  }
  return out;
}

/** whole-machine CPU seconds (summed over all cores) from /proc/stat: busy in processes (user, nice, system), in
 * interrupt handlers (irq, softirq: on this machine mostly loopback networking, charged to no process), stolen by the
 * hypervisor, and total */
export function machineCpuSeconds(): { busy: number; irq: number; steal: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system;
  return { busy: busy / CLK_TCK, irq: (irq + softirq) / CLK_TCK, steal: steal / CLK_TCK, total: (busy + irq + softirq + idle + iowait + steal) / CLK_TCK };
}

export function cpuCount(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}
