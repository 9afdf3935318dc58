/**
 * One feed from several upstreams (design.md §5): version union with priority, registration rebuilt across
 * upstreams, merged search paging, and packageSourceMapping as a dependency-confusion guard in every resource.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';

let internal: FakeUpstream;
let publicFeed: FakeUpstream;
let third: FakeUpstream;
let merged: Running;
let mapped: Running;

before(async () => {
  internal = await startFakeUpstream([
    { id: 'Contoso.Widgets', version: '1.0.0', description: 'private widgets' },
    { id: 'Shared.Lib', version: '1.0.0', description: 'internal build of shared' },
    { id: 'Shared.Lib', version: '1.5.0' },
  ]);
  publicFeed = await startFakeUpstream([
    // The dependency-confusion attempt: same id as the private package, higher version.
    { id: 'Contoso.Widgets', version: '99.0.0', description: 'ATTACKER' },
    { id: 'Shared.Lib', version: '1.0.0', description: 'public build of shared' },
    { id: 'Shared.Lib', version: '2.0.0' },
    ...Array.from({ length: 30 }, (_, i) => ({ id: `Pub.Pkg${String(i).padStart(2, '0')}`, version: '1.0.0', description: 'shared search term' })),
  ]);
  third = await startFakeUpstream([
    { id: 'Shared.Lib', version: '3.0.0-preview.1' },
    ...Array.from({ length: 25 }, (_, i) => ({ id: `Third.Pkg${String(i).padStart(2, '0')}`, version: '1.0.0', description: 'shared search term' })),
  ]);
  const upstreams = [
    { name: 'internal', url: internal.indexUrl },
    { name: 'public', url: publicFeed.indexUrl },
    { name: 'third', url: third.indexUrl, searchTimeout: '2s', timeout: '2s' },
  ];
  merged = await startNugateInProcess({ upstreams });
  mapped = await startNugateInProcess({
    upstreams,
    packageSourceMapping: { internal: ['Contoso.*'], public: ['*'], third: ['*'] },
  });
});

after(async () => {
  await merged?.stop();
  await mapped?.stop();
  for (const u of [internal, publicFeed, third]) await u?.close();
});

async function json<T>(base: string, path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`${base}${path}`);
  const text = await r.text();
  return { status: r.status, body: (r.status === 200 ? JSON.parse(text) : text) as T };
}

test('flat container is the union of every upstream, duplicates served from the higher priority', async () => {
  const { body } = await json<{ versions: string[] }>(merged.url, '/v3/flatcontainer/shared.lib/index.json');
  assert.deepEqual(body.versions, ['1.0.0', '1.5.0', '2.0.0', '3.0.0-preview.1']);
  const r = await fetch(`${merged.url}/v3/flatcontainer/shared.lib/1.0.0/shared.lib.1.0.0.nupkg`);
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), internal.nupkg('Shared.Lib', '1.0.0'));
  assert.equal(publicFeed.count('/flat/shared.lib/1.0.0/'), 0, 'the lower-priority copy is never downloaded');
  const v2 = await fetch(`${merged.url}/v3/flatcontainer/shared.lib/2.0.0/shared.lib.2.0.0.nupkg`);
  assert.deepEqual(Buffer.from(await v2.arrayBuffer()), publicFeed.nupkg('Shared.Lib', '2.0.0'));
});

test('registration is rebuilt across upstreams: sorted, no duplicate versions, bounds consistent', async () => {
  const { body } = await json<{ items: Array<{ lower: string; upper: string; count: number; items: Array<{ catalogEntry: { version: string; description: string } }> }> }>(merged.url, '/v3/registration/shared.lib/index.json');
  const leaves = body.items.flatMap((p) => p.items);
  assert.deepEqual(leaves.map((l) => l.catalogEntry.version), ['1.0.0', '1.5.0', '2.0.0', '3.0.0-preview.1']);
  assert.equal(leaves[0]?.catalogEntry.description, 'internal build of shared');
  const page = body.items[0];
  assert.equal(page?.lower, '1.0.0');
  assert.equal(page?.upper, '3.0.0-preview.1');
  assert.equal(page?.count, 4);
});

test('a mapped private id never shows its public twin in any resource', async () => {
  const flat = await json<{ versions: string[] }>(mapped.url, '/v3/flatcontainer/contoso.widgets/index.json');
  assert.deepEqual(flat.body.versions, ['1.0.0']);
  const reg = await json<{ items: Array<{ items: Array<{ catalogEntry: { version: string; description: string } }> }> }>(mapped.url, '/v3/registration/contoso.widgets/index.json');
  const descriptions = reg.body.items.flatMap((p) => p.items.map((l) => l.catalogEntry.description));
  assert.deepEqual(descriptions, ['private widgets']);
  const download = await fetch(`${mapped.url}/v3/flatcontainer/contoso.widgets/99.0.0/contoso.widgets.99.0.0.nupkg`);
  assert.equal(download.status, 404);
  await download.arrayBuffer();
  const search = await json<{ data: Array<{ id: string; version: string; description: string }> }>(mapped.url, '/v3/search?q=contoso&take=50');
  assert.deepEqual(search.body.data.map((d) => `${d.id} ${d.version} ${d.description}`), ['Contoso.Widgets 1.0.0 private widgets']);
  const ac = await json<{ data: string[] }>(mapped.url, '/v3/autocomplete?id=contoso.widgets&prerelease=true');
  assert.deepEqual(ac.body.data, ['1.0.0']);
  for (const path of ['/v3/registration-semver1/contoso.widgets/index.json', '/upstreams/public/v3/flatcontainer/contoso.widgets/index.json']) {
    const r = await fetch(`${mapped.url}${path}`);
    const text = await r.text();
    assert.ok(!text.includes('99.0.0') && !text.includes('ATTACKER'), `${path} leaked the public twin`);
  }
  assert.equal(publicFeed.count('contoso.widgets/99.0.0/contoso.widgets.99.0.0.nupkg'), 0, 'the attacker package was never fetched');
  const explain = await json<{ eligible: string[]; mapping: { pattern: string } }>(mapped.url, '/v3/explain/Contoso.Widgets/1.0.0');
  assert.deepEqual(explain.body.eligible, ['internal']);
  assert.equal(explain.body.mapping.pattern, 'Contoso.*');
});

test('merged search pages are stable: no id twice within or across consecutive pages', async () => {
  const seen: string[] = [];
  let total = -1;
  for (let skip = 0; skip < 60; skip += 20) {
    const { body } = await json<{ totalHits: number; data: Array<{ id: string }> }>(merged.url, `/v3/search?q=pkg&skip=${skip}&take=20`);
    if (total < 0) total = body.totalHits;
    for (const d of body.data) seen.push(d.id.toLowerCase());
  }
  assert.equal(new Set(seen).size, seen.length, 'no duplicates across pages');
  assert.equal(seen.length, 55, 'every id appears once');
  assert.equal(total, 55);
});

test('one upstream down: search and versions still answer from the rest, quickly', async () => {
  third.fail('/', 'hang');
  try {
    const started = Date.now();
    const { status, body } = await json<{ data: Array<{ id: string }> }>(merged.url, '/v3/search?q=contoso.widgets&take=5');
    assert.equal(status, 200);
    assert.ok(body.data.some((d) => d.id === 'Contoso.Widgets'));
    assert.ok(Date.now() - started < 4000, 'answers within the search timeout of the dead upstream');
    const flat = await json<{ versions: string[] }>(merged.url, '/v3/flatcontainer/contoso.widgets/index.json');
    assert.equal(flat.status, 200);
  } finally {
    third.clearFaults();
  }
});

test('a mapping that filters squatted ids out of search does not leave the page short', async () => {
  // The fake ranks shorter ids first, so the 15 squatted Contoso.* ids fill the top of the public ranking.
  const squatted = Array.from({ length: 15 }, (_, i) => ({ id: `Contoso.A${String(i).padStart(2, '0')}`, version: '1.0.0' }));
  const real = Array.from({ length: 10 }, (_, i) => ({ id: `Zeta.Real.Pkg${String(i).padStart(2, '0')}`, version: '1.0.0' }));
  const squat = await startFakeUpstream([...squatted, ...real]);
  const ng = await startNugateInProcess({ upstreams: [{ name: 'internal', url: internal.indexUrl }, { name: 'public', url: squat.indexUrl }], packageSourceMapping: { internal: ['Contoso.*'], public: ['*'] } });
  try {
    const { body } = await json<{ data: Array<{ id: string }> }>(ng.url, '/v3/search?q=&take=10');
    assert.ok(!body.data.some((d) => d.id.startsWith('Contoso.A')), 'squatted ids never appear');
    assert.equal(body.data.length, 10, `page is full: ${body.data.map((d) => d.id).join(', ')}`);
  } finally {
    await ng.stop();
    await squat.close();
  }
});
