/**
 * Freshness and stale answers through the Source seam (issue 8, ARCHITECTURE.md "Freshness, in one sentence"):
 * a version published upstream is listed on the first request after ttl.metadata; an upstream slower than
 * cache.revalidateTimeout gets the stale copy served and revalidated in the background; a down upstream with
 * everything held is quiet by default (cache.staleWarning); the service index is the same online and offline.
 * Time comes from an injected clock: nothing sleeps for a TTL.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNugateInProcess, testClock, type Running } from '../helpers/inproc.ts';
import type { ShapedFeed } from '../helpers/shaped-feed.ts';
import { download, get, tempDir, upstreamTraces } from '../helpers/sources-harness.ts';
import { PUBLIC, testScope } from '../helpers/sources-harness.ts';

const scope = testScope();
after(() => scope.close());
const { feed, nugate } = scope;

const MINUTE = 60_000;

// --- 4. freshness ----------------------------------------------------------------------------------------------

test('after ttl.metadata a version published upstream is listed on the FIRST request', async () => {
  const clock = testClock();
  const up = await feed({ packages: [{ id: 'Fresh.Pkg', version: '1.0.0' }] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }], cache: { ttl: { metadata: '5m' } } }, { clock });
  const url = `${ng.url}/v3/flatcontainer/fresh.pkg/index.json`;
  assert.deepEqual((await get(url)).json, { versions: ['1.0.0'] });

  up.add({ id: 'Fresh.Pkg', version: '1.1.0' });
  clock.advance(1 * MINUTE);
  assert.deepEqual((await get(url)).json, { versions: ['1.0.0'] }, 'within the TTL: the held list');
  assert.equal(up.count('/flat/fresh.pkg/index.json'), 1);

  clock.advance(5 * MINUTE);
  const first = await get(url);
  assert.deepEqual(first.json, { versions: ['1.0.0', '1.1.0'] }, `first request after the TTL (X-Cache ${first.headers.get('x-cache')})`);
  assert.notEqual(first.headers.get('x-cache'), 'STALE');
  assert.equal(up.count('/flat/fresh.pkg/index.json'), 2);
});

test('an upstream slower than revalidateTimeout after the TTL: the stale list is served at once, the new version follows the background revalidation', async () => {
  const clock = testClock();
  const up = await feed({ packages: [{ id: 'Slow.Pkg', version: '1.0.0' }] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }], cache: { ttl: { metadata: '5m' }, revalidateTimeout: '200ms' } }, { clock });
  const url = `${ng.url}/v3/flatcontainer/slow.pkg/index.json`;
  assert.deepEqual((await get(url)).json, { versions: ['1.0.0'] });

  up.add({ id: 'Slow.Pkg', version: '1.1.0' });
  clock.advance(6 * MINUTE);
  up.delay = 1500;
  const stale = await get(url);
  assert.equal(stale.status, 200, stale.text);
  assert.equal(stale.headers.get('x-cache'), 'STALE');
  assert.deepEqual(stale.json, { versions: ['1.0.0'] });
  assert.ok(stale.ms < 1400, `the stale copy took ${Math.round(stale.ms)} ms (revalidateTimeout 200 ms, upstream 1500 ms)`);
  assert.equal(stale.headers.get('x-nuget-warning'), null, 'stale answers are quiet by default');

  await ng.nugate.settle(); // the background revalidation finishes
  up.delay = 0;
  const later = await get(url);
  assert.deepEqual(later.json, { versions: ['1.0.0', '1.1.0'] }, `after the background revalidation (X-Cache ${later.headers.get('x-cache')})`);
  assert.equal(up.count('/flat/slow.pkg/index.json'), 2, 'one revalidation, finished in the background');
});

// --- 7. upstream down, everything held -------------------------------------------------------------------------

async function warmThenDown(staleWarning?: 'never' | 'oncePerSession' | 'always'): Promise<{ ng: Running; up: ShapedFeed }> {
  const clock = testClock();
  const up = await feed({ packages: [{ id: 'Warm.Pkg', version: '1.0.0' }, { id: 'Warm.Other', version: '2.0.0' }] });
  const ng = await nugate(
    { upstreams: [{ name: 'registry', url: up.indexUrl }], cache: { ttl: { metadata: '5m' }, ...(staleWarning === undefined ? {} : { staleWarning }) } },
    { clock },
  );
  for (const id of ['warm.pkg', 'warm.other']) {
    assert.equal((await get(`${ng.url}/v3/flatcontainer/${id}/index.json`)).status, 200);
    assert.equal((await get(`${ng.url}/v3/registration/${id}/index.json`)).status, 200);
  }
  assert.equal((await download(`${ng.url}/v3/flatcontainer/warm.pkg/1.0.0/warm.pkg.1.0.0.nupkg`)).status, 200);
  await ng.nugate.settle();
  await up.close();
  clock.advance(10 * MINUTE);
  return { ng, up };
}

test('upstream down, everything held, after expiry: 200 with X-Cache STALE and no X-NuGet-Warning by default', async () => {
  const { ng, up } = await warmThenDown();
  for (const path of ['/v3/flatcontainer/warm.pkg/index.json', '/v3/registration/warm.pkg/index.json']) {
    const r = await get(`${ng.url}${path}`, { 'x-nuget-session-id': 'restore-1' });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    assert.equal(r.headers.get('x-cache'), 'STALE', path);
    assert.equal(r.headers.get('x-nuget-warning'), null, `${path} warns by default: ${r.headers.get('x-nuget-warning')}`);
    assert.deepEqual(upstreamTraces(r, [up]), []);
  }
  const nupkg = await fetch(`${ng.url}/v3/flatcontainer/warm.pkg/1.0.0/warm.pkg.1.0.0.nupkg`);
  await nupkg.arrayBuffer();
  assert.equal(nupkg.status, 200);
  assert.equal(nupkg.headers.get('x-nuget-warning'), null);
});

test('upstream down, everything held: staleWarning "always" warns on every stale answer, naming no upstream address', async () => {
  const { ng, up } = await warmThenDown('always');
  for (const path of ['/v3/flatcontainer/warm.pkg/index.json', '/v3/registration/warm.pkg/index.json', '/v3/flatcontainer/warm.pkg/index.json']) {
    const r = await get(`${ng.url}${path}`, { 'x-nuget-session-id': 'restore-1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-cache'), 'STALE');
    const warning = r.headers.get('x-nuget-warning');
    assert.ok(warning !== null && warning.length > 0, `${path}: no X-NuGet-Warning with staleWarning "always"`);
    assert.deepEqual(upstreamTraces(r, [up]), [], `warning: ${warning}`);
  }
});

test('upstream down, everything held: staleWarning "oncePerSession" warns on the first stale answer of each X-NuGet-Session-Id only', async () => {
  const { ng } = await warmThenDown('oncePerSession');
  const warned = async (path: string, session: string): Promise<boolean> => {
    const r = await get(`${ng.url}${path}`, { 'x-nuget-session-id': session });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-cache'), 'STALE', path);
    return r.headers.get('x-nuget-warning') !== null;
  };
  assert.equal(await warned('/v3/flatcontainer/warm.pkg/index.json', 'session-a'), true, 'first response of session-a');
  assert.equal(await warned('/v3/registration/warm.pkg/index.json', 'session-a'), false, 'second response of session-a');
  assert.equal(await warned('/v3/flatcontainer/warm.other/index.json', 'session-a'), false, 'third response of session-a');
  assert.equal(await warned('/v3/flatcontainer/warm.pkg/index.json', 'session-a'), false, 'the first resource again, session-a');
  assert.equal(await warned('/v3/flatcontainer/warm.pkg/index.json', 'session-b'), true, 'first response of session-b');
  assert.equal(await warned('/v3/registration/warm.other/index.json', 'session-b'), false, 'second response of session-b');
});

// --- 8. the service index is the same in every mode ------------------------------------------------------------

test('the service index is byte-identical online and offline (PackagePublish in both); offline, a push is 503 with a reason', async () => {
  const up = await feed({ publish: true, search: true, vulnerability: true, packages: [{ id: 'Idx.Pkg', version: '1.0.0' }] });
  const dir = await tempDir(scope.defer);
  const upstreams = [{ name: 'registry', url: up.indexUrl }];
  const online = await startNugateInProcess({ publicUrl: PUBLIC, upstreams }, { cacheDir: dir });
  let onlineIndex: string;
  try {
    const r = await get(`${online.url}/v3/index.json`);
    assert.equal(r.status, 200, r.text);
    onlineIndex = r.text;
    await online.nugate.settle();
  } finally {
    await online.stop();
  }
  assert.ok(onlineIndex.includes('PackagePublish/2.0.0'), `online index: ${onlineIndex}`);

  const before = up.requests.length;
  const offline = await nugate({ publicUrl: PUBLIC, upstreams, offline: true }, { cacheDir: dir });
  const r = await get(`${offline.url}/v3/index.json`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, onlineIndex, 'the client caches the service index: it must not change with the mode');

  const form = new FormData();
  form.append('package', new Blob([up.nupkg('Idx.Pkg', '1.0.0')]), 'package.nupkg');
  const push = await fetch(`${offline.url}/v3/package`, { method: 'PUT', body: form, headers: { 'x-nuget-apikey': 'some-key' } });
  const text = await push.text();
  assert.equal(push.status, 503, `offline push: ${push.status} ${text}`);
  assert.match(text, /offline/i, 'the reason the client prints');
  assert.deepEqual(upstreamTraces({ text, headers: push.headers }, [up]), []);
  assert.equal(up.requests.length - before, 0, `offline, the upstream saw ${up.requests.slice(before).map((x) => x.path).join(', ')}`);
});
