/**
 * Issue 10, several instances: two nugate processes (the real CLI) sharing one cache folder and one Redis, as
 * config/ha/ deploys them behind a load balancer. Proves: concurrent cold requests through both make one upstream
 * request; a push through one is served by the other at once; kill -9 of the instance that is downloading leaves
 * the other answering complete, verified bytes; cache.maxSize holds for the folder as a whole; with Redis stopped
 * both answer within 5 s, and they recover when it is back, without a restart.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { assertAllEqual, coldGets, eventually, fillPastCap, getBytes, listedAfterPush, nupkgUrl, paddedNupkg, pushPackage, startHaFeed, type HaFeed } from '../helpers/ha.ts';

const KEY = `key-${randomUUID()}`;
const MAX_SIZE = 13 * 1024 * 1024;

describe('two instances sharing a cache folder and Redis', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let redisPort: number;
  let feed: HaFeed;
  let cacheDir: string;
  let hostedDir: string;
  let a: NugateProcess;
  let b: NugateProcess;

  const config = (): Record<string, unknown> => ({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: [
      { name: 'feed', url: feed.indexUrl, timeout: '30s' },
      { name: 'hosted', url: pathToFileURL(hostedDir).href },
    ],
    cache: { dir: cacheDir, store: redis.url, maxSize: MAX_SIZE },
    publish: { upstream: 'hosted', keyMode: 'mapped', keys: [{ name: 'ci', sha256: createHash('sha256').update(KEY).digest('hex') }] },
    warm: { enabled: false },
    log: { level: 'info' },
  });
  const start = (): Promise<NugateProcess> => startNugate({ config: config() });

  before(async () => {
    redis = await startRedis();
    redisPort = Number(new URL(redis.url).port);
    feed = await startHaFeed();
    cacheDir = await mkdtemp(join(tmpdir(), 'nugate-ha-cache-'));
    hostedDir = await mkdtemp(join(tmpdir(), 'nugate-ha-hosted-'));
    [a, b] = await Promise.all([start(), start()]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await feed?.close();
    await redis?.stop();
    for (const d of [cacheDir, hostedDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  // First, so each process's own share (about 10 MB) stays under the cap: only one total for the folder evicts.
  it('cache.maxSize holds for the shared folder as a whole', async () => {
    const held = await fillPastCap(feed, 'Ha.Cap', (i) => (i % 2 === 0 ? a.baseUrl : b.baseUrl), cacheDir, MAX_SIZE);
    assert.ok(held <= MAX_SIZE, `${held} bytes of blobs on disk, cap ${MAX_SIZE}`);
  });

  it('50 concurrent cold GETs through both: one upstream request, 50 identical bodies', async () => {
    assert.equal(await coldGets(feed, 'Ha.Cold', (i) => (i % 2 === 0 ? a.baseUrl : b.baseUrl)), 1, 'upstream package requests');
  });

  it('a push through one instance is served by the other at once', async () => {
    // B answered "no such package" first: nothing it holds may hide the push.
    assert.equal((await fetch(`${b.baseUrl}/v3/flatcontainer/ha.pushed/index.json`)).status, 404);
    const v1 = paddedNupkg('Ha.Pushed', '1.0.0', 2048);
    assert.equal(await pushPackage(a.baseUrl, v1, KEY), 201);
    const listed = await fetch(`${b.baseUrl}/v3/flatcontainer/ha.pushed/index.json`);
    assert.equal(listed.status, 200);
    assert.deepEqual(await listed.json(), { versions: ['1.0.0'] });
    assert.ok((await getBytes(nupkgUrl(b.baseUrl, 'Ha.Pushed', '1.0.0'))).body.equals(v1));
    // And the other way round, with a second version.
    assert.equal(await pushPackage(b.baseUrl, paddedNupkg('Ha.Pushed', '2.0.0', 2048), KEY), 201);
    assert.deepEqual(await (await fetch(`${a.baseUrl}/v3/flatcontainer/ha.pushed/index.json`)).json(), { versions: ['1.0.0', '2.0.0'] });
  });

  it('a publish through one instance drops what the other holds in memory about the id (Redis pub/sub)', async () => {
    assert.deepEqual(await listedAfterPush(feed, a.baseUrl, b.baseUrl, 'Ha.Mixed', KEY), ['1.0.0', '1.5.0', '2.0.0']);
  });

  it('kill -9 of the instance that is downloading: the other still answers complete, verified bytes', async () => {
    feed.add('Ha.Kill', '1.0.0', 2 * 1024 * 1024);
    feed.trickleMs = 15; // 128 chunks: about 2 s for the whole body
    const first = getBytes(nupkgUrl(a.baseUrl, 'Ha.Kill', '1.0.0')).catch(() => undefined);
    const lock = join(cacheDir, 'blobs', 'ha.kill', '1.0.0', 'feed', '.nupkg.lock');
    assert.ok(await eventually(async () => (await readFile(lock, 'utf8').catch(() => '')).includes(String(a.pid)), 10_000, 20), 'instance A holds the download');
    const waiting = Array.from({ length: 5 }, () => getBytes(nupkgUrl(b.baseUrl, 'Ha.Kill', '1.0.0')));
    await new Promise((r) => setTimeout(r, 300));
    await a.stop('SIGKILL');
    await first;
    const answers = await Promise.all(waiting);
    feed.trickleMs = 0;
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
    assertAllEqual(answers.map((r) => r.body), feed.nupkg('Ha.Kill', '1.0.0'));
    assert.equal(feed.count('/flat/ha.kill/1.0.0/'), 2, 'the dead download, then the one that took over');
    a = await start();
    // The stored copy is the verified one: A serves it without asking the upstream again.
    assert.ok((await getBytes(nupkgUrl(a.baseUrl, 'Ha.Kill', '1.0.0'))).body.equals(feed.nupkg('Ha.Kill', '1.0.0')));
    assert.equal(feed.count('/flat/ha.kill/1.0.0/'), 2);
  });

  it('Redis stopped: answers within 5 s; Redis back: recovers without a restart', async () => {
    feed.add('Ha.Down', '1.0.0', 4096);
    await redis.stop();
    for (const [name, url] of [
      ['a stored package', nupkgUrl(a.baseUrl, 'Ha.Kill', '1.0.0')],
      ['a new package', nupkgUrl(b.baseUrl, 'Ha.Down', '1.0.0')],
      ['a folder listing', `${a.baseUrl}/v3/flatcontainer/ha.pushed/index.json`],
      ['an unknown id', `${b.baseUrl}/v3/flatcontainer/ha.nothing/index.json`],
    ] as const) {
      const started = Date.now();
      const res = await getBytes(url, 10_000);
      assert.ok(Date.now() - started < 5000, `${name}: ${Date.now() - started} ms`);
      assert.ok(res.status === 200 || (name === 'an unknown id' && res.status === 404), `${name}: ${res.status}`);
    }
    redis = await startRedis(redisPort);
    // Recovered: a package fetched through A is found by B in the shared index (no second upstream request).
    let round = 0;
    const recovered = await eventually(async () => {
      const id = `Ha.Back${round++}`;
      feed.add(id, '1.0.0', 4096);
      await getBytes(nupkgUrl(a.baseUrl, id, '1.0.0'));
      await getBytes(nupkgUrl(b.baseUrl, id, '1.0.0'));
      return feed.count(`/flat/${id.toLowerCase()}/1.0.0/`) === 1;
    }, 30_000, 500);
    assert.ok(recovered, 'B did not find what A stored after Redis came back');
    // And changes reach the other instance again (its subscription is back).
    assert.deepEqual(await listedAfterPush(feed, b.baseUrl, a.baseUrl, 'Ha.MixedBack', KEY), ['1.0.0', '1.5.0', '2.0.0']);
  });
});
