/**
 * Starts the real nugate CLI as a child process, the way an operator would (design.md §7):
 * `node --import tsx src/cli.ts --config FILE --port 0`, cwd = the repo root.
 *
 * Readiness is the first JSON log line on stdout with `"msg":"nugate listening"` and a `"url"` field; that url
 * carries the real port. The child's output is kept for assertion messages (`logs()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo root (this file is test/helpers/nugate-process.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const READY_TIMEOUT_MS = 20_000;
const KILL_AFTER_MS = 5_000;

export interface StartNugateOptions {
  /** Written verbatim as the config file. When `cache.dir` is absent, a temp dir (removed by stop()) is filled in. */
  config: Record<string, unknown>;
  /** Extra CLI arguments, after `--config FILE --port 0`. */
  args?: string[];
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /** How long to wait for the "nugate listening" line. Default 20 s. */
  readyTimeoutMs?: number;
  /** Entry script relative to the repo root. Default `src/cli.ts`; the helper's own tests use a stand-in. */
  entry?: string;
}

export interface NugateProcess {
  /** The `url` field of the "nugate listening" log line. */
  url: string;
  /** Origin of the listening socket, e.g. `http://127.0.0.1:40123`. */
  baseUrl: string;
  /** `{baseUrl}/v3/index.json`, the merged feed. */
  indexUrl: string;
  pid: number;
  configPath: string;
  /** Temp dir holding the config file (and the cache, unless the config named one). */
  dir: string;
  /** Signals the child, SIGKILLs it after 5 s, removes the temp dir. Idempotent; resolves to the exit code (128+n for a signal). */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Everything the child wrote to stdout and stderr so far. */
  logs(): string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test runner that dies must not leave nugate processes behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (SIGNAL_NUMBERS[signal] ?? 0));
}

/** Parses a log line as JSON and returns the listening url when it is the readiness line. */
function listeningUrl(line: string): string | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const rec: unknown = JSON.parse(trimmed);
    if (typeof rec !== 'object' || rec === null) return undefined;
    const { msg, url } = rec as { msg?: unknown; url?: unknown };
    return msg === 'nugate listening' && typeof url === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}

export async function startNugate(opts: StartNugateOptions): Promise<NugateProcess> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'nugate-proc-'));
  const config: Record<string, unknown> = { ...opts.config };
  const cache = config['cache'];
  const cacheObj: Record<string, unknown> = typeof cache === 'object' && cache !== null ? { ...(cache as Record<string, unknown>) } : {};
  if (cacheObj['dir'] === undefined) {
    cacheObj['dir'] = join(dir, 'cache');
    config['cache'] = cacheObj;
  }
  const configPath = join(dir, 'nugate.config.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const args = ['--import', 'tsx', opts.entry ?? 'src/cli.ts', '--config', configPath, '--port', '0', ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  let output = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<number>((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      res(exitCodeOf(code, signal));
    });
  });

  const url = await new Promise<string>((resolveReady, rejectReady) => {
    let pending = '';
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (exited === undefined) child.kill('SIGKILL');
      void rm(dir, { recursive: true, force: true });
      rejectReady(new Error(`nugate did not start: ${why}\ncommand: node ${args.join(' ')} (cwd ${REPO_ROOT})\n--- output ---\n${output}`));
    };
    const timer = setTimeout(() => fail(`no "nugate listening" log line within ${opts.readyTimeoutMs ?? READY_TIMEOUT_MS} ms`), opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      if (settled) return;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const u = listeningUrl(line);
        if (u !== undefined) {
          settled = true;
          clearTimeout(timer);
          resolveReady(u);
          return;
        }
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.once('error', (err) => fail(`spawn failed: ${String(err)}`));
    child.once('exit', (code, signal) => fail(`exited early (code ${String(code)}, signal ${String(signal)})`));
  });

  const parsed = new URL(url);
  // A wildcard bind address is not something a client can connect to.
  if (parsed.hostname === '0.0.0.0' || parsed.hostname === '[::]') parsed.hostname = '127.0.0.1';
  const baseUrl = parsed.origin;
  let stopping: Promise<number> | undefined;

  return {
    url,
    baseUrl,
    indexUrl: `${baseUrl}/v3/index.json`,
    pid: child.pid ?? -1,
    configPath,
    dir,
    logs: () => output,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping ??= (async () => {
        if (exited === undefined) {
          child.kill(signal);
          const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
          try {
            await exitPromise;
          } finally {
            clearTimeout(killer);
          }
        }
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        return exitPromise;
      })();
      return stopping;
    },
  };
}

/**
 * A minimal nugate config over the given upstream service indexes (first = highest priority), listening on
 * loopback. `extra` is merged on top (shallow), e.g. `{ offline: true }` or `{ cache: { dir } }`.
 */
export function nugateConfigFor(upstreams: Array<{ name: string; url: string; timeout?: string }>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: upstreams.map((u) => ({ name: u.name, url: u.url, timeout: u.timeout ?? '30s' })),
    log: { level: 'info' },
    ...extra,
  };
}
