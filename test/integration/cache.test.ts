/**
 * The cache engine seen through the whole app (design.md §3–4), counting the requests that reach the upstream.
 * Time comes from an injected clock: nothing here sleeps for a TTL.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, testClock } from '../helpers/inproc.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function upstream(): Promise<FakeUpstream> {
  const up = await startFakeUpstream([
    { id: 'Cached.Pkg', version: '1.0.0', padding: 200_000 },
    { id: 'Cached.Pkg', version: '1.1.0' },
    { id: 'Other.Pkg', version: '1.0.0' },
  ]);
  cleanups.push(() => up.close());
  return up;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-cache-it-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const NUPKG = '/v3/flatcontainer/cached.pkg/1.0.0/cached.pkg.1.0.0.nupkg';
const sha = (b: Buffer): string => createHash('sha512').update(b).digest('base64');

test('a restart on the same cache dir serves packages and metadata with zero upstream requests', async () => {
  const up = await upstream();
  const dir = await tempDir();
  const first = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] }, { cacheDir: dir });
  const a = Buffer.from(await (await fetch(`${first.url}${NUPKG}`)).arrayBuffer());
  await (await fetch(`${first.url}/v3/flatcontainer/cached.pkg/index.json`)).arrayBuffer();
  await first.stop();
  const before = up.requests.length;
  const second = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] }, { cacheDir: dir });
  cleanups.push(() => second.stop());
  const res = await fetch(`${second.url}${NUPKG}`);
  const b = Buffer.from(await res.arrayBuffer());
  assert.equal(res.status, 200);
  assert.equal(sha(b), sha(a));
  assert.equal(sha(b), sha(up.nupkg('Cached.Pkg', '1.0.0')));
  assert.equal(up.requests.length - before, 0, `upstream saw ${up.requests.slice(before).map((r) => r.path).join(', ')}`);
});

test('50 concurrent cold requests for one package cause one upstream request and identical bytes', async () => {
  const up = await upstream();
  up.delay = 50;
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] });
  cleanups.push(() => ng.stop());
  const bodies = await Promise.all(Array.from({ length: 50 }, async () => Buffer.from(await (await fetch(`${ng.url}${NUPKG}`)).arrayBuffer())));
  const expected = sha(up.nupkg('Cached.Pkg', '1.0.0'));
  for (const b of bodies) assert.equal(sha(b), expected);
  assert.equal(up.count('/flat/cached.pkg/1.0.0/cached.pkg.1.0.0.nupkg'), 1);
});

test('a new upstream version appears once the metadata TTL has passed', async () => {
  const up = await upstream();
  const clock = testClock();
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], cache: { ttl: { metadata: '5m' } } }, { clock });
  cleanups.push(() => ng.stop());
  const list = async (): Promise<string[]> => ((await (await fetch(`${ng.url}/v3/flatcontainer/cached.pkg/index.json`)).json()) as { versions: string[] }).versions;
  assert.deepEqual(await list(), ['1.0.0', '1.1.0']);
  up.add({ id: 'Cached.Pkg', version: '2.0.0' });
  clock.advance(60_000);
  assert.deepEqual(await list(), ['1.0.0', '1.1.0'], 'still fresh: served from the cache');
  assert.equal(up.count('/flat/cached.pkg/index.json'), 1);
  clock.advance(5 * 60_000);
  // Past the TTL the list is revalidated before the answer: the first request already sees the new version.
  assert.deepEqual(await list(), ['1.0.0', '1.1.0', '2.0.0']);
  assert.equal(up.count('/flat/cached.pkg/index.json'), 2);
});

test('5xx, truncated bodies, resets and HTML pages are never cached; the clean copy is served after', async () => {
  const up = await upstream();
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl, maxFails: 100 }] });
  cleanups.push(() => ng.stop());
  for (const fault of ['status500', 'truncate', 'reset', 'html200'] as const) {
    up.fail('/flat/other.pkg/', fault);
    // A download that fails mid-way reaches the client as a cut stream (a fetch error), never a complete body.
    const bad = await fetch(`${ng.url}/v3/flatcontainer/other.pkg/1.0.0/other.pkg.1.0.0.nupkg`)
      .then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))
      .catch(() => ({ status: -1, body: Buffer.alloc(0) }));
    assert.notDeepEqual(bad.body, up.nupkg('Other.Pkg', '1.0.0'), `${fault} must not produce the package`);
    const badIndex = await fetch(`${ng.url}/v3/flatcontainer/other.pkg/index.json`)
      .then(async (r) => (await r.arrayBuffer(), r.status))
      .catch(() => -1);
    assert.notEqual(badIndex, 200, `${fault}: index must not be 200`);
    up.clearFaults();
    const good = await fetch(`${ng.url}/v3/flatcontainer/other.pkg/1.0.0/other.pkg.1.0.0.nupkg`);
    assert.equal(good.status, 200, fault);
    assert.equal(sha(Buffer.from(await good.arrayBuffer())), sha(up.nupkg('Other.Pkg', '1.0.0')), fault);
    const index = await fetch(`${ng.url}/v3/flatcontainer/other.pkg/index.json`);
    assert.equal(index.status, 200, fault);
    await index.arrayBuffer();
    // Forget the good copy so the next fault is tried on a cold cache again.
    await ng.nugate.services.invalidate('other.pkg');
  }
});

test('with the upstream down, cached data is served STALE with a warning and uncached ids answer fast', async () => {
  const up = await upstream();
  const clock = testClock();
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl, maxFails: 2, failTimeout: '30s', timeout: '2s' }], cache: { staleWarning: 'always' } }, { clock });
  cleanups.push(() => ng.stop());
  await (await fetch(`${ng.url}/v3/flatcontainer/cached.pkg/index.json`)).arrayBuffer();
  await (await fetch(`${ng.url}${NUPKG}`)).arrayBuffer();
  up.fail('/', 'status500');
  up.fail('search:', 'status500');
  clock.advance(24 * 3600_000);
  const stale = await fetch(`${ng.url}/v3/flatcontainer/cached.pkg/index.json`);
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();
  await ng.nugate.settle();
  const again = await fetch(`${ng.url}/v3/flatcontainer/cached.pkg/index.json`);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('x-cache'), 'STALE');
  assert.match(again.headers.get('x-nuget-warning') ?? '', /upstream/);
  assert.deepEqual(((await again.json()) as { versions: string[] }).versions, ['1.0.0', '1.1.0']);
  const pkg = await fetch(`${ng.url}${NUPKG}`);
  assert.equal(pkg.status, 200);
  assert.equal(sha(Buffer.from(await pkg.arrayBuffer())), sha(up.nupkg('Cached.Pkg', '1.0.0')));
  // Breaker open: a missing item fails fast with 503 and a short Retry-After, never 404 or a hang.
  for (let i = 0; i < 3; i++) await fetch(`${ng.url}/v3/flatcontainer/never.seen${i}/index.json`).then((r) => r.arrayBuffer());
  const started = Date.now();
  const missing = await fetch(`${ng.url}/v3/flatcontainer/never.seen.again/index.json`);
  await missing.arrayBuffer();
  assert.ok(Date.now() - started < 1000, 'answers within 1 s once the breaker is open');
  assert.equal(missing.status, 503);
  assert.ok(Number(missing.headers.get('retry-after')) <= 5);
  const health = (await (await fetch(`${ng.url}/health`)).json()) as { upstreams: Array<{ state: string }> };
  assert.equal(health.upstreams[0]?.state, 'open');
});

test('offline mode makes zero upstream requests: cached data served, the rest 404 fast', async () => {
  const up = await upstream();
  const dir = await tempDir();
  const online = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] }, { cacheDir: dir });
  await (await fetch(`${online.url}/v3/flatcontainer/cached.pkg/index.json`)).arrayBuffer();
  await (await fetch(`${online.url}${NUPKG}`)).arrayBuffer();
  await online.stop();
  const before = up.requests.length;
  const offline = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], offline: true }, { cacheDir: dir });
  cleanups.push(() => offline.stop());
  const idx = await fetch(`${offline.url}/v3/flatcontainer/cached.pkg/index.json`);
  assert.equal(idx.status, 200);
  await idx.arrayBuffer();
  const pkg = await fetch(`${offline.url}${NUPKG}`);
  assert.equal(pkg.status, 200);
  await pkg.arrayBuffer();
  const started = Date.now();
  const missing = await fetch(`${offline.url}/v3/flatcontainer/other.pkg/index.json`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
  assert.ok(Date.now() - started < 1000);
  const si = await fetch(`${offline.url}/v3/index.json`);
  assert.equal(si.status, 200);
  await si.arrayBuffer();
  assert.equal(up.requests.length - before, 0);
});

test('clients get a strong ETag and 304 on If-None-Match for metadata', async () => {
  const up = await upstream();
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] });
  cleanups.push(() => ng.stop());
  const first = await fetch(`${ng.url}/v3/registration/cached.pkg/index.json`);
  await first.arrayBuffer();
  const etag = first.headers.get('etag');
  assert.ok(etag && !etag.startsWith('W/'));
  assert.match(first.headers.get('cache-control') ?? '', /max-age=/);
  const second = await fetch(`${ng.url}/v3/registration/cached.pkg/index.json`, { headers: { 'if-none-match': etag } });
  assert.equal(second.status, 304);
  assert.equal(second.headers.get('x-cache'), 'HIT');
});

test('clients aborting mid-download neither crash nugate nor corrupt the cache', async () => {
  const up = await startFakeUpstream([{ id: 'Huge.Pkg', version: '1.0.0', padding: 8_000_000 }]);
  cleanups.push(() => up.close());
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] });
  cleanups.push(() => ng.stop());
  const path = `${ng.url}/v3/flatcontainer/huge.pkg/1.0.0/huge.pkg.1.0.0.nupkg`;
  const aborted = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const ac = new AbortController();
      try {
        const res = await fetch(path, { signal: ac.signal });
        const reader = res.body?.getReader();
        await reader?.read();
        ac.abort();
        return true;
      } catch {
        return true;
      }
    }),
  );
  assert.equal(aborted.length, 20);
  const full = await fetch(path);
  assert.equal(full.status, 200);
  assert.equal(sha(Buffer.from(await full.arrayBuffer())), sha(up.nupkg('Huge.Pkg', '1.0.0')));
  const health = await fetch(`${ng.url}/health`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();
});

test('offline search and autocomplete answer from what is cached', async () => {
  const up = await upstream();
  const dir = await tempDir();
  const online = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }] }, { cacheDir: dir });
  await (await fetch(`${online.url}/v3/registration/cached.pkg/index.json`)).arrayBuffer();
  await (await fetch(`${online.url}/v3/flatcontainer/other.pkg/index.json`)).arrayBuffer();
  // Offline, nugate lists only what it can serve: the packages themselves must be held.
  for (const path of ['cached.pkg/1.0.0/cached.pkg.1.0.0.nupkg', 'cached.pkg/1.1.0/cached.pkg.1.1.0.nupkg', 'other.pkg/1.0.0/other.pkg.1.0.0.nupkg']) {
    await (await fetch(`${online.url}/v3/flatcontainer/${path}`)).arrayBuffer();
  }
  await online.stop();
  const before = up.requests.length;
  const offline = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], offline: true }, { cacheDir: dir });
  cleanups.push(() => offline.stop());
  const search = (await (await fetch(`${offline.url}/v3/search?q=pkg`)).json()) as { totalHits: number; data: Array<{ id: string; version: string; registration: string; versions: Array<{ '@id': string }> }> };
  assert.deepEqual(search.data.map((d) => d.id).sort(), ['Cached.Pkg', 'Other.Pkg'], 'ids spelled as the held nuspecs spell them');
  const cached = search.data.find((d) => d.id === 'Cached.Pkg');
  assert.equal(cached?.version, '1.1.0');
  assert.equal(cached?.registration, `${offline.url}/v3/registration/cached.pkg/index.json`);
  const reg = await fetch(cached?.versions[0]?.['@id'] ?? '');
  assert.equal(reg.status, 200, 'a version link from offline search resolves');
  await reg.arrayBuffer();
  const ids = (await (await fetch(`${offline.url}/v3/autocomplete?q=cached`)).json()) as { data: string[] };
  assert.deepEqual(ids.data, ['Cached.Pkg']);
  const versions = (await (await fetch(`${offline.url}/v3/autocomplete?id=cached.pkg`)).json()) as { data: string[] };
  assert.deepEqual(versions.data, ['1.0.0', '1.1.0']);
  const none = (await (await fetch(`${offline.url}/v3/search?q=zzz`)).json()) as { data: unknown[] };
  assert.equal(none.data.length, 0);
  assert.equal(up.requests.length - before, 0);
});
