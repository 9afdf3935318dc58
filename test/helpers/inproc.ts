/**
 * Runs nugate in this process on 127.0.0.1:0 with a temp cache dir, for integration tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput, Config } from '../../src/config/schema.ts';
import { createApp, type NugateApp } from '../../src/app.ts';
import { listen } from '../../src/server.ts';
import { createLogger } from '../../src/ops/logger.ts';

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.parse('2026-06-01T00:00:00Z')): TestClock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

export interface Running {
  url: string;
  nugate: NugateApp;
  config: Config;
  cacheDir: string;
  logs: string[];
  stop(): Promise<void>;
}

export async function startNugateInProcess(input: Omit<ConfigInput, 'listen'> & { listen?: ConfigInput['listen'] }, opts: { clock?: TestClock; cacheDir?: string; env?: NodeJS.ProcessEnv; keepCache?: boolean } = {}): Promise<Running> {
  const cacheDir = opts.cacheDir ?? (await mkdtemp(join(tmpdir(), 'nugate-test-')));
  const config = parseConfig({ ...input, listen: { host: '127.0.0.1', port: 0 }, cache: { ...(input.cache ?? {}), dir: cacheDir }, log: { level: 'debug' } });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger('debug', sink);
  let nugate: NugateApp;
  try {
    nugate = await createApp({ config, log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.env ? { env: opts.env } : {}) });
  } catch (err) {
    // A start-up failure (tested on purpose) must not leave the temp cache behind.
    if (!opts.cacheDir) await rm(cacheDir, { recursive: true, force: true });
    throw err;
  }
  const running = await listen(nugate, '127.0.0.1', 0);
  return {
    url: running.url,
    nugate,
    config,
    cacheDir,
    logs,
    async stop() {
      await running.stop(1000);
      if (!opts.keepCache && !opts.cacheDir) await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
