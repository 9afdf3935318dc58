/**
 * CPU time a server process (and its children, e.g. nginx's worker) used, from /proc (Linux). Divided by the
 * requests served in a run, it gives CPU µs per request: a figure other load on the machine barely moves,
 * unlike req/s, which is why the bench prints it next to throughput.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every common Linux build). */
const TICKS_PER_SECOND = 100;

function stat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** Pids of `pid`'s direct children (Linux; [] elsewhere). */
export function children(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s?.ppid === pid) out.push(Number(name));
  }
  return out;
}

/** CPU milliseconds used so far by `pid` and (when `withChildren`) its live children; NaN off Linux. */
export function cpuMs(pid: number, withChildren = false): number {
  const own = stat(pid);
  if (own === undefined) return Number.NaN;
  let ticks = own.ticks;
  if (withChildren) for (const child of children(pid)) ticks += stat(child)?.ticks ?? 0;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

function cpuLine(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Share (0–1) of the machine's CPU time that was busy over the next `ms` milliseconds; NaN off Linux. */
export async function machineBusy(ms: number): Promise<number> {
  const a = cpuLine();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = cpuLine();
  if (a === undefined || b === undefined || b.total === a.total) return Number.NaN;
  return (b.busy - a.busy) / (b.total - a.total);
}

/** utime+stime (+cutime+cstime: children it has reaped) of every process, by pid, with parent pids. */
function scanProcs(): Map<number, { ppid: number; ticks: number }> {
  const out = new Map<number, { ppid: number; ticks: number }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Ticks the machine spent in user and system mode (all cores), from /proc/stat. */
function machineTicks(): number {
  try {
    const v = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0);
  } catch {
    return Number.NaN;
  }
}

export interface LoadSnapshot {
  at: number;
  machine: number;
  ours: number;
}

/** CPU ticks of `root` and all its descendants (reaped children included), and of the whole machine. */
export function snapshot(root: number = process.pid): LoadSnapshot {
  const procs = scanProcs();
  const kids = new Map<number, number[]>();
  for (const [pid, p] of procs) {
    const list = kids.get(p.ppid);
    if (list === undefined) kids.set(p.ppid, [pid]);
    else list.push(pid);
  }
  let ours = 0;
  const stack = [root];
  for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
    ours += procs.get(pid)?.ticks ?? 0;
    stack.push(...(kids.get(pid) ?? []));
  }
  return { at: performance.now(), machine: machineTicks(), ours };
}

/**
 * CPU used between two snapshots by processes that are not ours (other work on the machine), in cores
 * (0.25 = a quarter of one core, on average). Approximate: ±0.03 cores from tick granularity.
 */
export function foreignCores(a: LoadSnapshot, b: LoadSnapshot): number {
  const seconds = (b.at - a.at) / 1000;
  if (seconds <= 0) return Number.NaN;
  return Math.max(0, b.machine - a.machine - (b.ours - a.ours)) / TICKS_PER_SECOND / seconds;
}
