/**
 * Child processes of the benchmark: started (optionally pinned to one core with `taskset`), waited for, and
 * always stopped: by the caller, or by `stopAll()` on errors and on Ctrl-C, or with SIGKILL on exit as a last
 * resort. Only processes started here are ever signalled, each by its own pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { createServer } from 'node:net';
import { children } from './cpu.ts';

export interface Proc {
  name: string;
  pid: number;
  /** Everything the process wrote so far (stdout and stderr, capped). */
  logs(): string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves with the exit code (128+n for a signal). */
  readonly done: Promise<number>;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves when it is gone. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number>;
}

const live = new Map<ChildProcess, { tree: boolean }>();
const stoppers = new Set<() => Promise<unknown>>();
const cleanups = new Set<() => Promise<unknown>>();
const MAX_LOG = 64 * 1024;
const SIGNALS: Partial<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** SIGKILL for the child and, for process trees (nginx: master + worker), its own children first. */
function killHard(child: ChildProcess, tree: boolean): void {
  if (tree && child.pid !== undefined) {
    for (const pid of children(child.pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  try {
    child.kill('SIGKILL');
  } catch {
    // already gone
  }
}

process.once('exit', () => {
  for (const [child, { tree }] of live) killHard(child, tree);
});

let tasksetChecked: boolean | undefined;
export function hasTaskset(): boolean {
  tasksetChecked ??= spawnSync('taskset', ['--version'], { stdio: 'ignore' }).error === undefined;
  return tasksetChecked;
}

export function commandExists(cmd: string, versionArgs: string[] = ['--version']): boolean {
  const r = spawnSync(cmd, versionArgs, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined;
}

/** `[cmd, args]`, prefixed with `taskset -c core` when `core` is given (taskset execs, so the pid stays the same). */
export function pinned(core: number | undefined, cmd: string, args: string[]): [string, string[]] {
  if (core === undefined) return [cmd, args];
  return ['taskset', ['-c', String(core), cmd, ...args]];
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  core?: number | undefined;
  /** The process has children of its own (nginx's worker): a hard kill takes them along. */
  tree?: boolean;
  /**
   * Standard output goes to this file (appended) instead of a pipe the bench reads: a server's log lines then cost
   * what they cost an operator's log file, not a JavaScript reader competing for the cores.
   */
  stdoutFile?: string;
}

/** The last `max` bytes of a file, as text ('' when it cannot be read). */
function fileTail(path: string, max: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function start(name: string, cmd: string, args: string[], opts: StartOptions = {}): Proc {
  const [command, argv] = pinned(opts.core, cmd, args);
  const stdoutFd = opts.stdoutFile === undefined ? undefined : openSync(opts.stdoutFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
  } finally {
    // The child holds its own copy.
    if (stdoutFd !== undefined) closeSync(stdoutFd);
  }
  const tree = opts.tree ?? false;
  live.set(child, { tree });
  let output = '';
  const append = (d: string): void => {
    output += d;
    if (output.length > MAX_LOG) output = output.slice(-MAX_LOG);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  let exited = false;
  const done = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      append(`\n[spawn error: ${String(err)}]`);
      exited = true;
      live.delete(child);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      resolve(code ?? 128 + (signal === null ? 0 : (SIGNALS[signal] ?? 0)));
    });
  });
  let stopping: Promise<number> | undefined;
  const proc: Proc = {
    name,
    pid: child.pid ?? -1,
    logs: () => (opts.stdoutFile === undefined ? output : `${fileTail(opts.stdoutFile, MAX_LOG)}\n${output}`),
    get exited() {
      return exited;
    },
    done,
    stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000) {
      stopping ??= (async () => {
        if (!exited) {
          child.kill(signal);
          const killer = setTimeout(() => killHard(child, tree), graceMs);
          try {
            await done;
          } finally {
            clearTimeout(killer);
          }
        }
        stoppers.delete(stopper);
        return done;
      })();
      return stopping;
    },
  };
  const stopper = (): Promise<number> => proc.stop();
  stoppers.add(stopper);
  return proc;
}

/** Resolves with the first value `match` returns for a line of the process's stdout/stderr. */
export function waitForLine<T>(proc: Proc, match: (line: string) => T | undefined, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const started = Date.now();
    const poll = (): void => {
      // All of it every time (it is capped): with stdout in a file, the text is not one growing string.
      const text = proc.logs();
      // The last (maybe partial) line waits for the next poll.
      for (const line of text.split('\n').slice(0, -1)) {
        const v = match(line);
        if (v !== undefined) {
          resolve(v);
          return;
        }
      }
      if (proc.exited) {
        reject(new Error(`${proc.name} exited before it was ready:\n${text.slice(-4000)}`));
        return;
      }
      if (Date.now() - started > timeoutMs) {
        reject(new Error(`${proc.name} not ready within ${timeoutMs} ms:\n${text.slice(-4000)}`));
        return;
      }
      setTimeout(poll, 25);
    };
    poll();
  });
}

/** The `url` of the first JSON log line whose `msg` is `msg`. */
export function jsonUrlLine(msg: string): (line: string) => string | undefined {
  return (line) => {
    const t = line.trim();
    if (!t.startsWith('{')) return undefined;
    try {
      const rec = JSON.parse(t) as { msg?: unknown; url?: unknown };
      return rec.msg === msg && typeof rec.url === 'string' ? rec.url : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Runs a command to completion and returns its output (for wrk). Registered like the servers, so Ctrl-C stops it. */
export async function run(name: string, cmd: string, args: string[], opts: StartOptions & { timeoutMs: number }): Promise<{ code: number; output: string }> {
  const p = start(name, cmd, args, opts);
  const timer = setTimeout(() => void p.stop('SIGKILL'), opts.timeoutMs);
  try {
    const code = await p.done;
    return { code, output: p.logs() };
  } finally {
    clearTimeout(timer);
    await p.stop();
  }
}

/** A free loopback port (bound and released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Registers work for stopAll() (e.g. removing a temp dir); returns a function that unregisters it. */
export function addCleanup(fn: () => Promise<unknown>): () => void {
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}

/** Stops every process still running, then runs the registered cleanups. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...stoppers].map((s) => s()));
  await Promise.allSettled([...cleanups].map((c) => c()));
  cleanups.clear();
}
