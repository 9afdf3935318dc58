/**
 * GET /ready beside /health: 200 when the config is loaded, the cache folder takes writes and the metadata store
 * answers; 503 naming the failed check otherwise. Tests run as root, where permissions stop no write, so the
 * failures are made for real: the folder nugate writes into is replaced by a plain file (ENOTDIR for anyone), and
 * a Redis store is stopped.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startNugateInProcess } from '../helpers/inproc.ts';
import { startRedis } from '../helpers/redis.ts';
import { startUiFeed } from '../helpers/ui-feed.ts';

interface ReadyBody {
  status: string;
  failed?: string[];
  checks: Record<string, { ok: boolean; error?: string }>;
}

async function ready(url: string): Promise<{ status: number; body: ReadyBody; cacheControl: string | null }> {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as ReadyBody, cacheControl: res.headers.get('cache-control') };
}

test('/ready: 200 with a writable cache; 503 naming the check when the cache or the file store cannot be written', { timeout: 60_000 }, async (t) => {
  const feed = await startUiFeed([{ id: 'A', version: '1.0.0' }]);
  t.after(() => feed.close());
  const nugate = await startNugateInProcess({ upstreams: [{ name: 'up', url: feed.indexUrl }] });
  t.after(() => nugate.stop());

  const ok = await ready(nugate.url);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { status: 'ready', checks: { config: { ok: true }, cache: { ok: true }, store: { ok: true } } });
  assert.equal(ok.cacheControl, 'no-store');
  // The probe leaves nothing behind.
  assert.equal((await ready(nugate.url)).status, 200);

  // cache.dir/tmp becomes a file: no write can start there, root or not.
  await rm(join(nugate.cacheDir, 'tmp'), { recursive: true, force: true });
  await writeFile(join(nugate.cacheDir, 'tmp'), 'not a folder');
  const broken = await ready(nugate.url);
  assert.equal(broken.status, 503);
  assert.equal(broken.body.status, 'not ready');
  assert.deepEqual(broken.body.failed, ['cache']);
  assert.equal(broken.body.checks.cache?.ok, false);
  assert.match(broken.body.checks.cache?.error ?? '', /^(ENOTDIR|EEXIST)$/);
  // /health still says the process is alive: the two answer different questions.
  assert.equal((await fetch(`${nugate.url}/health`)).status, 200);

  // Repaired: ready again.
  await rm(join(nugate.cacheDir, 'tmp'));
  assert.equal((await ready(nugate.url)).status, 200);

  // The file metadata store's folder becomes a file.
  await rm(join(nugate.cacheDir, 'meta'), { recursive: true, force: true });
  await writeFile(join(nugate.cacheDir, 'meta'), 'not a folder');
  const store = await ready(nugate.url);
  assert.equal(store.status, 503);
  assert.deepEqual(store.body.failed, ['store']);
  // No path in the answer.
  assert.doesNotMatch(JSON.stringify(store.body), new RegExp(nugate.cacheDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
});

test('/ready with a Redis store: 200 while Redis answers, 503 (bounded) once it is gone', { timeout: 60_000 }, async (t) => {
  const feed = await startUiFeed([{ id: 'A', version: '1.0.0' }]);
  t.after(() => feed.close());
  const redis = await startRedis();
  let stopped = false;
  t.after(async () => {
    if (!stopped) await redis.stop();
  });
  const nugate = await startNugateInProcess({ upstreams: [{ name: 'up', url: feed.indexUrl }], cache: { store: redis.url } });
  t.after(() => nugate.stop());

  assert.equal((await ready(nugate.url)).status, 200);
  await redis.stop();
  stopped = true;
  const started = Date.now();
  const gone = await ready(nugate.url);
  assert.equal(gone.status, 503);
  assert.deepEqual(gone.body.failed, ['store']);
  assert.ok(Date.now() - started < 10_000, `the answer took ${Date.now() - started} ms`);
  assert.doesNotMatch(JSON.stringify(gone.body), /127\.0\.0\.1|redis:/);
});

test('/ready needs no credentials when auth.read is on (orchestrators probe it); the UI does', { timeout: 30_000 }, async (t) => {
  const feed = await startUiFeed([{ id: 'A', version: '1.0.0' }]);
  t.after(() => feed.close());
  const nugate = await startNugateInProcess({
    upstreams: [{ name: 'up', url: feed.indexUrl }],
    auth: { read: true, users: [{ username: 'u', passwordSha256: createHash('sha256').update('p').digest('hex') }] },
  });
  t.after(() => nugate.stop());
  assert.equal((await ready(nugate.url)).status, 200);
  const ui = await fetch(`${nugate.url}/`);
  await ui.arrayBuffer();
  assert.equal(ui.status, 401);
});
