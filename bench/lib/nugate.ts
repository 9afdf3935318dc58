/**
 * Starts nugate the way an operator does: its own process, `node --import tsx src/cli.ts --config FILE --port 0`
 * from the repo root, ready when it logs `{"msg":"nugate listening","url":...}`. Optionally pinned to a core and
 * with extra NODE_OPTIONS (e.g. `--max-semi-space-size=32`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
}

export interface RunningNugate {
  proc: Proc;
  url: string;
  configPath: string;
}

export async function startNugateProcess(o: NugateOptions): Promise<RunningNugate> {
  await mkdir(o.dir, { recursive: true });
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: [{ name: 'origin', url: o.upstream }],
    cache: { dir: join(o.dir, 'cache'), ...(o.store === undefined ? {} : { store: o.store }), ...(o.ttl === undefined ? {} : { ttl: o.ttl }) },
    log: { level: 'info' },
  };
  const configPath = join(o.dir, 'nugate.config.json');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
  if (o.nodeOptions !== undefined) env.NODE_OPTIONS = [process.env.NODE_OPTIONS ?? '', o.nodeOptions].join(' ').trim();
  const args = [...(o.nodeFlags ?? []), '--import', 'tsx', 'src/cli.ts', '--config', configPath, '--port', '0'];
  const proc = start(o.name, process.execPath, args, { cwd: o.root ?? REPO_ROOT, env, core: o.core });
  try {
    const url = await waitForLine(proc, jsonUrlLine('nugate listening'), 30_000);
    return { proc, url: url.replace('://0.0.0.0', '://127.0.0.1'), configPath };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
