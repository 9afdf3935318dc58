/**
 * Starts nugate the way an operator does: its own process, `node --import tsx src/cli.ts --config FILE --port 0`
 * from the repo root, ready when it logs `{"msg":"nugate listening","url":...}`. Optionally pinned to a core and
 * with extra NODE_OPTIONS (e.g. `--max-semi-space-size=32`). Standard output (the JSON log, an access line per
 * request) is appended to `stdout.log` in its dir, like an operator's log file.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.ts';
import { jsonUrlLine, start, waitForLine, type Proc } from './procs.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface NugateOptions {
  name: string;
  /** Temp dir for the config file and cache.dir. */
  dir: string;
  /** Upstream service index URL. */
  upstream: string;
  core?: number | undefined;
  nodeOptions?: string;
  /** Merged into `cache.ttl`. */
  ttl?: Record<string, string | number>;
  /** Extra node flags before `--import tsx` (e.g. `--cpu-prof`). */
  nodeFlags?: string[];
  /** `cache.store` ("file" by default; "memory" keeps the metadata tier in the process). */
  store?: string;
  /** Where src/cli.ts is run from (default: this repo). */
  root?: string;
  /**
   * More upstreams with these names, all at `upstream`: each is served on its own at /upstreams/{name}/v3/ and
   * cached under its own name, so a running process can be given a feed it holds nothing of.
   */
  views?: string[];
}

export interface RunningNugate {
  proc: Proc;
  url: string;
  configPath: string;
  /** `cache.hotMaxSize` as nugate itself reads the config (the schema's default unless the bench sets it). */
  hotMaxSize: number;
}

export async function startNugateProcess(o: NugateOptions): Promise<RunningNugate> {
  await mkdir(o.dir, { recursive: true });
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: [{ name: 'origin', url: o.upstream }, ...(o.views ?? []).map((name) => ({ name, url: o.upstream }))],
    cache: { dir: join(o.dir, 'cache'), ...(o.store === undefined ? {} : { store: o.store }), ...(o.ttl === undefined ? {} : { ttl: o.ttl }) },
    log: { level: 'info' },
  };
  const configPath = join(o.dir, 'nugate.config.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  if (o.nodeOptions !== undefined) env.NODE_OPTIONS = [process.env.NODE_OPTIONS ?? '', o.nodeOptions].join(' ').trim();
  const args = [...(o.nodeFlags ?? []), '--import', 'tsx', 'src/cli.ts', '--config', configPath, '--port', '0'];
  // Its log (an access line per request) goes to a file, as an operator's would; nginx logs to a file too.
  const proc = start(o.name, process.execPath, args, { cwd: o.root ?? REPO_ROOT, env, core: o.core, stdoutFile: join(o.dir, 'stdout.log') });
  try {
    const url = await waitForLine(proc, jsonUrlLine('nugate listening'), 30_000);
    const { cache } = await loadConfigFile(configPath);
    return { proc, url: url.replace('://0.0.0.0', '://127.0.0.1'), configPath, hotMaxSize: cache.hotMaxSize };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Resident set size of a process in bytes (VmRSS in /proc/PID/status); NaN when it is gone or off Linux. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** What nugate's /metrics says about its upstream traffic; undefined parts were not in /metrics. */
export interface UpstreamTraffic {
  /** `nugate_upstream_connections_*` summed over their labels, by name without the prefix (and `_total`). */
  connections?: Map<string, number>;
  /** `nugate_upstream_requests_total`, every label summed. */
  requests?: number;
  /** `nugate_warm_items_total` by its `outcome` label (warmed, used, wasted). */
  warm?: Map<string, number>;
}

const SAMPLE = /^([a-z_:][a-z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;

function add(map: Map<string, number>, key: string, v: number): void {
  map.set(key, (map.get(key) ?? 0) + v);
}

/** Parses the Prometheus text format for the series the bench prints. */
export function parseTraffic(text: string): UpstreamTraffic {
  const connections = new Map<string, number>();
  const warm = new Map<string, number>();
  let requests: number | undefined;
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m?.[1] === undefined || m[3] === undefined) continue;
    const [, name, labels = '', raw] = m;
    const v = Number(raw);
    if (!Number.isFinite(v)) continue;
    if (name.startsWith('nugate_upstream_connections_')) add(connections, name.slice('nugate_upstream_connections_'.length).replace(/_total$/, ''), v);
    else if (name === 'nugate_upstream_requests_total') requests = (requests ?? 0) + v;
    else if (name === 'nugate_warm_items_total') add(warm, /outcome="([^"]*)"/.exec(labels)?.[1] ?? '?', v);
  }
  return { ...(connections.size > 0 ? { connections } : {}), ...(requests === undefined ? {} : { requests }), ...(warm.size > 0 ? { warm } : {}) };
}

/**
 * GET /metrics of a running nugate. The series are other changes' work (issue 9): whatever is missing, or all of
 * it when /metrics cannot be read, prints as "n/a".
 */
export async function upstreamTraffic(base: string): Promise<UpstreamTraffic> {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? parseTraffic(await res.text()) : {};
  } catch {
    return {};
  }
}

const count = (v: number): string => Math.round(v).toLocaleString('en-US');
const describeMap = (m: Map<string, number> | undefined): string => (m === undefined ? 'n/a' : [...m].map(([k, v]) => `${k.replace(/_/g, ' ')} ${count(v)}`).join(', '));

/** The state of one nugate process at the end of a scenario: memory and upstream connections. */
export interface ProcessSample {
  scenario: string;
  rss: number;
  hotMaxSize: number;
  /** Upstream requests and connections ("requests 63; connections opened 13, open 13"), or "n/a". */
  upstream: string;
  /** Dependency warming outcomes, or "n/a". */
  warm: string;
}

export async function sampleNugate(scenario: string, n: RunningNugate): Promise<ProcessSample> {
  const rss = rssBytes(n.proc.pid);
  const t = await upstreamTraffic(n.url);
  const upstream = t.requests === undefined && t.connections === undefined ? 'n/a' : `requests ${t.requests === undefined ? 'n/a' : count(t.requests)}; connections ${describeMap(t.connections)}`;
  return { scenario, rss, hotMaxSize: n.hotMaxSize, upstream, warm: describeMap(t.warm) };
}
