/**
 * Dependency-aware warming (issue 9): serving a package makes nugate fetch, in the background, what the client's next
 * level will ask for; warming obeys packageSourceMapping, never runs offline, can be turned off, and /metrics counts
 * warmed, used and wasted items. Requests that reach the upstream are counted.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeUpstream, type FakePackage, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, testClock, type Running, type TestClock } from '../helpers/inproc.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

const GRAPH: FakePackage[] = [
  { id: 'App.Root', version: '1.0.0', dependencies: [{ id: 'Lib.Mid', range: '[1.1.0, )' }, { id: 'Lib.Gap', range: '2.0.0' }] },
  { id: 'Lib.Mid', version: '1.0.0' },
  { id: 'Lib.Mid', version: '1.1.0', dependencies: [{ id: 'Lib.Leaf', range: '3.0.0' }] },
  { id: 'Lib.Mid', version: '1.2.0' },
  // 2.0.0 does not exist: NuGet picks the lowest applicable, 2.1.0.
  { id: 'Lib.Gap', version: '2.1.0' },
  { id: 'Lib.Gap', version: '2.5.0' },
  { id: 'Lib.Leaf', version: '3.0.0' },
];

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setUp(extra: Partial<ConfigInput> = {}, clock?: TestClock): Promise<{ up: FakeUpstream; ng: Running }> {
  const up = await startFakeUpstream(GRAPH);
  cleanups.push(() => up.close());
  const ng = await startNugateInProcess({ upstreams: [{ name: 'u', url: up.indexUrl }], ...extra }, clock ? { clock } : {});
  cleanups.push(() => ng.stop());
  return { up, ng };
}

async function get(url: string): Promise<Response> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res;
}

const nupkgPath = (id: string, v: string): string => `/flat/${id.toLowerCase()}/${v}/${id.toLowerCase()}.${v}.nupkg`;

test('serving a package warms its dependency closure: version lists, the lower bound, the lowest applicable version', async () => {
  const { up, ng } = await setUp();
  await get(`${ng.url}/v3/flatcontainer/app.root/index.json`);
  assert.equal((await get(`${ng.url}/v3/flatcontainer/app.root/1.0.0/app.root.1.0.0.nupkg`)).status, 200);
  await ng.nugate.settle();
  for (const id of ['lib.mid', 'lib.gap', 'lib.leaf']) assert.equal(up.count(`/flat/${id}/index.json`), 1, `${id} versions warmed once`);
  assert.equal(up.count(nupkgPath('Lib.Mid', '1.1.0')), 1, 'the lower bound of [1.1.0, ) is warmed');
  assert.equal(up.count(nupkgPath('Lib.Gap', '2.1.0')), 1, 'the lowest applicable version when the lower bound is missing');
  assert.equal(up.count(nupkgPath('Lib.Leaf', '3.0.0')), 1, 'warming follows a warmed package to its own dependencies');
  assert.equal(up.count(nupkgPath('Lib.Mid', '1.2.0')) + up.count(nupkgPath('Lib.Gap', '2.5.0')), 0, 'nothing the client will not pick');

  // The client's next level is all hits: no further upstream request.
  const before = up.requests.length;
  for (const [id, v] of [['lib.mid', '1.1.0'], ['lib.gap', '2.1.0'], ['lib.leaf', '3.0.0']] as const) {
    assert.equal((await get(`${ng.url}/v3/flatcontainer/${id}/index.json`)).status, 200);
    const pkg = await get(`${ng.url}/v3/flatcontainer/${id}/${v}/${id}.${v}.nupkg`);
    assert.equal(pkg.status, 200);
    assert.equal(pkg.headers.get('x-cache'), 'HIT', `${id} ${v} was warmed`);
  }
  await ng.nugate.settle();
  assert.equal(up.requests.length, before, 'the next levels cost no upstream request');

  const value = await warmCounts(ng);
  assert.equal(value('package', 'warmed'), 3);
  assert.equal(value('package', 'used'), 3);
  assert.equal(value('versions', 'warmed'), 3);
  assert.equal(value('versions', 'used'), 3);
});

async function warmCounts(ng: Running): Promise<(kind: string, outcome: string) => number> {
  const metrics = await (await fetch(`${ng.url}/metrics`)).text();
  return (kind, outcome) => Number(new RegExp(`nugate_warm_items_total\\{kind="${kind}",outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
}

test('the next level is warmed as soon as a package shows its nuspec, before the rest of it has arrived', async () => {
  const { up, ng } = await setUp();
  // App.Root's nuspec is its first entry; 64 KB of padding come after it. The upstream sends half and stalls.
  up.add({ id: 'App.Slow', version: '1.0.0', padding: 64 * 1024, dependencies: [{ id: 'Lib.Mid', range: '[1.1.0, )' }] });
  up.fail('/flat/app.slow/1.0.0/', 'stall');
  const res = await fetch(`${ng.url}/v3/flatcontainer/app.slow/1.0.0/app.slow.1.0.0.nupkg`);
  assert.equal(res.status, 200);
  for (let i = 0; i < 2000 && up.arrived(nupkgPath('Lib.Mid', '1.1.0')) === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(up.arrived('/flat/lib.mid/index.json'), 1, 'the dependency list was asked for while the package was still downloading');
  assert.equal(up.arrived(nupkgPath('Lib.Mid', '1.1.0')), 1, 'and its lower bound');
  up.clearFaults();
  const body = Buffer.from(await res.arrayBuffer());
  assert.ok(body.equals(up.nupkg('App.Slow', '1.0.0')), 'the client still gets the whole, verified package');
  await ng.nugate.settle();
  assert.equal(up.count('/flat/lib.mid/index.json'), 1, 'warmed once');
});

test('a client that joins a warm-up still in flight counts it as used, not wasted', async () => {
  const clock = testClock();
  const { up, ng } = await setUp({}, clock);
  await get(`${ng.url}/v3/flatcontainer/app.root/1.0.0/app.root.1.0.0.nupkg`);
  // From now on the upstream holds every answer: the warm-ups of the next level are in flight when the client asks.
  up.delay = 300;
  const inFlight = async (path: string): Promise<void> => {
    for (let i = 0; i < 2000 && up.arrived(path) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(up.arrived(path), 1, `the warm-up asked for ${path}`);
  };
  await inFlight('/flat/lib.mid/index.json');
  await inFlight(nupkgPath('Lib.Mid', '1.1.0'));
  const [list, pkg] = await Promise.all([get(`${ng.url}/v3/flatcontainer/lib.mid/index.json`), get(`${ng.url}/v3/flatcontainer/lib.mid/1.1.0/lib.mid.1.1.0.nupkg`)]);
  assert.equal(list.status, 200);
  assert.equal(pkg.status, 200);
  await ng.nugate.settle();
  assert.equal(up.count('/flat/lib.mid/index.json') + up.count(nupkgPath('Lib.Mid', '1.1.0')), 2, 'the client joined the warm-ups: no request of its own');
  clock.advance(11 * 60_000);
  const value = await warmCounts(ng);
  assert.equal(value('versions', 'used'), 1);
  assert.equal(value('package', 'used'), 1);
  assert.equal(value('versions', 'wasted'), 2, 'Lib.Gap and Lib.Leaf were never asked for');
  assert.equal(value('package', 'wasted'), 2);
});

test("a NuGet client's new session fetches the vulnerability data its restore will end with, once", async () => {
  const { up, ng } = await setUp();
  const session = { 'x-nuget-session-id': '6a2c3a80-5f0e-4c55-8d55-7c2a3f1e9b01' };
  await (await fetch(`${ng.url}/v3/index.json`)).arrayBuffer();
  await ng.nugate.settle();
  assert.equal(up.count('/vulnerabilities/'), 0, 'a request without a session (not a NuGet client) warms nothing');

  await (await fetch(`${ng.url}/v3/index.json`, { headers: session })).arrayBuffer();
  await ng.nugate.settle();
  assert.equal(up.count('/vulnerabilities/index.json'), 1, 'the index');
  assert.equal(up.count('/vulnerabilities/base.json'), 1, 'and its page');

  // The end of the restore: the index and the page it links, both held.
  const index = (await (await fetch(`${ng.url}/v3/vulnerabilities/index.json`, { headers: session })).json()) as Array<{ '@id': string }>;
  const page = index[0]?.['@id'];
  assert.ok(page !== undefined && page.startsWith(`${ng.url}/v3/raw/u/`), `a nugate link: ${page}`);
  assert.equal((await fetch(page, { headers: session })).status, 200);
  await (await fetch(`${ng.url}/v3/flatcontainer/app.root/index.json`, { headers: { 'x-nuget-session-id': 'f2b1f7d4-3c1e-4a8e-9e0f-2b7c1d4e5a66' } })).arrayBuffer();
  await ng.nugate.settle();
  assert.equal(up.count('/vulnerabilities/'), 2, 'no further request: not for the client, not for a second session within the window');
});

test('warmed items no client asks for within 10 minutes count as wasted', async () => {
  const clock = testClock();
  const { ng } = await setUp({}, clock);
  await get(`${ng.url}/v3/flatcontainer/app.root/1.0.0/app.root.1.0.0.nupkg`);
  await ng.nugate.settle();
  await get(`${ng.url}/v3/flatcontainer/lib.mid/1.1.0/lib.mid.1.1.0.nupkg`);
  clock.advance(11 * 60_000);
  const value = await warmCounts(ng);
  assert.equal(value('package', 'warmed'), 3);
  assert.equal(value('package', 'used'), 1);
  assert.equal(value('package', 'wasted'), 2);
  assert.equal(value('versions', 'wasted'), 3);
});

test('warming obeys packageSourceMapping: a dependency no upstream may serve is never fetched', async () => {
  const { up, ng } = await setUp({ packageSourceMapping: { u: ['App.*', 'Lib.Mid'] } });
  await get(`${ng.url}/v3/flatcontainer/app.root/1.0.0/app.root.1.0.0.nupkg`);
  await ng.nugate.settle();
  assert.equal(up.count('/flat/lib.mid/index.json'), 1);
  assert.equal(up.count('/flat/lib.gap/'), 0, 'Lib.Gap maps to no upstream');
  assert.equal(up.count('/flat/lib.leaf/'), 0, 'Lib.Leaf maps to no upstream');
});

test('warming can be turned off', async () => {
  const { up, ng } = await setUp({ warm: { enabled: false } });
  await get(`${ng.url}/v3/flatcontainer/app.root/1.0.0/app.root.1.0.0.nupkg`);
  await ng.nugate.settle();
  assert.equal(up.count('/flat/lib.'), 0);
});

test('once serving, every upstream is discovered before any client asks (never offline)', async () => {
  const { up, ng } = await setUp();
  assert.equal(up.count('/v3/index.json'), 0, 'nothing before start');
  ng.nugate.services.warm?.started();
  await ng.nugate.settle();
  assert.equal(up.count('/v3/index.json'), 1, 'the service index, at start');
  const before = up.requests.length;
  assert.equal((await get(`${ng.url}/v3/flatcontainer/app.root/index.json`)).status, 200);
  assert.deepEqual(up.requests.slice(before).map((r) => r.path), ['/flat/app.root/index.json'], 'the first client request costs one upstream exchange');

  const offline = await setUp({ offline: true });
  offline.ng.nugate.services.warm?.started();
  await offline.ng.nugate.settle();
  assert.equal(offline.up.requests.length, 0, 'offline: nothing');
});
