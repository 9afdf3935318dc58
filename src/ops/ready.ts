/**
 * GET /ready: can this instance serve right now? /health says the process is alive; /ready says whether the
 * config is loaded, the cache folder takes writes and the metadata store answers, so an orchestrator (Docker
 * HEALTHCHECK, a Kubernetes readiness probe, a load balancer) stops sending traffic to an instance that would
 * fail it. 200 when every check passes, 503 naming the checks that failed. Reasons are errno codes and short
 * texts, never a path, an address or a credential.
 */
import { Hono } from 'hono';
import { randomBytes } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.ts';
import type { Env } from '../http/respond.ts';
import { errnoOf } from '../cache/fs-util.ts';

export interface ReadyDeps {
  config: Config;
  /** One read of the metadata store (cache/index.ts `ping`). */
  pingStore(): Promise<void>;
  /** Per-check time limit; a check that takes longer fails (default 2 s). */
  timeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  /** Why it failed: an errno code or a short text. */
  error?: string;
}

class CheckTimeout extends Error {}

async function bounded(ms: number, work: () => Promise<void>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckTimeout()), ms);
  });
  try {
    await Promise.race([work(), late]);
    return { ok: true };
  } catch (err) {
    if (err instanceof CheckTimeout) return { ok: false, error: `no answer within ${ms} ms` };
    const code = errnoOf(err);
    return { ok: false, error: code ?? 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes and removes a small file in `dir`: the only proof that writes work there (permissions, a full or read-only disk). */
async function probeWrite(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `.ready-${process.pid}-${randomBytes(6).toString('hex')}`);
  await writeFile(file, 'ready\n');
  await unlink(file);
}

/** Runs every check in parallel; the answer never takes much longer than one time limit. */
export async function readiness(deps: ReadyDeps): Promise<{ ready: boolean; checks: Record<'config' | 'cache' | 'store', CheckResult> }> {
  const ms = deps.timeoutMs ?? 2000;
  const { cache } = deps.config;
  const [cacheCheck, storeCheck] = await Promise.all([
    // Downloads, pushes and the file store all write under cache.dir; tmp/ is where a new file starts.
    bounded(ms, () => probeWrite(join(cache.dir, 'tmp'))),
    bounded(ms, async () => {
      // The file store lives in cache.dir/meta: reaching it means writing there. Redis: one bounded read.
      if (cache.store === 'file') await probeWrite(join(cache.dir, 'meta'));
      await deps.pingStore();
    }),
  ]);
  // The app exists only once its config parsed and validated.
  const checks = { config: { ok: true }, cache: cacheCheck, store: storeCheck };
  return { ready: cacheCheck.ok && storeCheck.ok, checks };
}

export function readyRoutes(deps: ReadyDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', async (c) => {
    const { ready, checks } = await readiness(deps);
    const failed = Object.entries(checks).flatMap(([name, r]) => (r.ok ? [] : [name]));
    const body = ready ? { status: 'ready', checks } : { status: 'not ready', failed, checks };
    return c.json(body, ready ? 200 : 503, { 'cache-control': 'no-store' });
  });
  return app;
}
