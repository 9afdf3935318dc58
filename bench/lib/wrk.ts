/**
 * wrk (Debian package `wrk`): `wrk -t1 -cN -dSs --latency URL [-s script -- args]`, output parsed into
 * req/s, p50/p99 and error counts.
 */
import { run } from './procs.ts';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  errors: number;
  raw: string;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  core?: number | undefined;
  script?: string;
  scriptArgs?: string[];
}

/** "635.00us" | "2.31ms" | "1.02s" | "1.5m" → milliseconds. */
export function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (m === null || m[1] === undefined) return Number.NaN;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      return v * 3_600_000;
  }
}

export function parseWrk(output: string): WrkResult {
  const num = (re: RegExp): number => {
    const m = re.exec(output);
    return m?.[1] === undefined ? Number.NaN : Number(m[1]);
  };
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output);
    return m?.[1] === undefined ? Number.NaN : durationMs(m[1]);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1, 5).reduce((n, s) => n + Number(s), 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    requests: num(/(\d+) requests in /),
    errors: socketErrors + (non2xx?.[1] === undefined ? 0 : Number(non2xx[1])),
    raw: output,
  };
}

export async function wrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency'];
  if (o.script !== undefined) args.push('-s', o.script);
  args.push(o.url);
  if (o.scriptArgs !== undefined && o.scriptArgs.length > 0) args.push('--', ...o.scriptArgs);
  const { code, output } = await run('wrk', 'wrk', args, { core: o.core, timeoutMs: (o.seconds + 30) * 1000 });
  const result = parseWrk(output);
  if (code !== 0 || !Number.isFinite(result.rps)) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${output}`);
  return result;
}

/**
 * A wrk script that makes every request unique: `?q=<prefix>-<n>` appended to the path (a fresh prefix per run
 * keeps the passes apart), so a cache keyed by the query can never answer it.
 */
export const UNIQUE_QUERY_LUA = `
local prefix = "run"
local path = "/"
local n = 0
init = function(args)
  prefix = args[1] or prefix
  path = args[2] or path
end
request = function()
  n = n + 1
  return wrk.format("GET", path .. "?q=" .. prefix .. "-" .. n .. "&take=20")
end
`;
