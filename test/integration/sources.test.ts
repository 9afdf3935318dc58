/**
 * The Source seam against upstreams shaped like the real ones (issue 8): a registry with no search service and bare
 * registration leaves, an Artifactory-shaped feed without a flat container, two upstreams with a held list that
 * lacks a new version, an offline restart on a warm cache, and a registration packageHash that does not match.
 * Everything goes through nugate's HTTP API in this process; every upstream is a real server on 127.0.0.1 whose
 * requests are counted.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { shapedNuspec } from '../helpers/shaped-feed.ts';
import { startNugateInProcess } from '../helpers/inproc.ts';
import { catalogEntry, download, get, inlinedLeaves, isObject, tempDir, upstreamTraces } from '../helpers/sources-harness.ts';
import { PUBLIC, testScope } from '../helpers/sources-harness.ts';

const scope = testScope();
after(() => scope.close());
const { feed, nugate } = scope;

const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('base64');

// --- 1. no SearchQueryService ---------------------------------------------------------------------------------

test('no search service upstream: a package restored through nugate is found by online search and autocomplete, and search stays advertised', async () => {
  const up = await feed({
    packages: [
      { id: 'Contoso.Widgets', version: '1.0.0', description: 'Old widgets' },
      { id: 'Contoso.Widgets', version: '1.2.0', description: 'Widgets for the Contoso line', tags: 'widgets contoso' },
      { id: 'Never.Restored', version: '1.0.0' },
    ],
  });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });

  // A restore: version list, then the package.
  const list = await get(`${ng.url}/v3/flatcontainer/contoso.widgets/index.json`);
  assert.equal(list.status, 200, list.text);
  const pkg = await download(`${ng.url}/v3/flatcontainer/contoso.widgets/1.2.0/contoso.widgets.1.2.0.nupkg`);
  assert.equal(pkg.status, 200, pkg.error);
  assert.equal(sha512(pkg.bytes ?? Buffer.alloc(0)), sha512(up.nupkg('Contoso.Widgets', '1.2.0')));

  const search = await get(`${ng.url}/v3/search?q=widgets&prerelease=true&semVerLevel=2.0.0`);
  assert.equal(search.status, 200, search.text);
  assert.ok(isObject(search.json) && Array.isArray(search.json.data), search.text);
  const hit = (search.json.data as unknown[]).find((d) => isObject(d) && d.id === 'Contoso.Widgets');
  assert.ok(isObject(hit), `online search did not find the restored package: ${search.text}`);
  assert.equal(hit.version, '1.2.0', search.text);
  assert.equal(hit.description, 'Widgets for the Contoso line', 'description comes from the held nuspec');
  assert.ok(!(search.json.data as unknown[]).some((d) => isObject(d) && d.id === 'Never.Restored'), 'only what nugate holds is searched');

  const ac = await get(`${ng.url}/v3/autocomplete?q=contoso.wid&prerelease=true&semVerLevel=2.0.0`);
  assert.equal(ac.status, 200, ac.text);
  assert.ok(isObject(ac.json) && Array.isArray(ac.json.data) && ac.json.data.includes('Contoso.Widgets'), `autocomplete: ${ac.text}`);

  const index = await get(`${ng.url}/v3/index.json`);
  const resources = isObject(index.json) && Array.isArray(index.json.resources) ? index.json.resources.filter(isObject) : [];
  const types = resources.map((r) => r['@type']).flat();
  assert.ok(types.includes('SearchQueryService/3.5.0') && types.includes('SearchAutocompleteService/3.5.0'), `service index: ${index.text}`);
  assert.equal(up.count('/query') + up.count('/autocomplete'), 0, 'the upstream has no search service: nothing may be asked of it');
  for (const g of [list, search, ac, index]) assert.deepEqual(upstreamTraces(g, [up]), []);
});

test('no search service upstream: a package restored after a first (empty) search is found by the next search', async () => {
  const up = await feed({ packages: [{ id: 'Late.Arrival', version: '2.0.0', description: 'Arrives after the first search' }] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const before = await get(`${ng.url}/v3/search?q=late.arrival`);
  assert.equal(before.status, 200, before.text);
  assert.ok(isObject(before.json) && Array.isArray(before.json.data) && before.json.data.length === 0, before.text);

  assert.equal((await get(`${ng.url}/v3/flatcontainer/late.arrival/index.json`)).status, 200);
  assert.equal((await download(`${ng.url}/v3/flatcontainer/late.arrival/2.0.0/late.arrival.2.0.0.nupkg`)).status, 200);

  // `dotnet package search` right after a restore: the held listing must not hide what was just stored.
  const after = await get(`${ng.url}/v3/search?q=late.arrival`);
  assert.ok(isObject(after.json) && Array.isArray(after.json.data), after.text);
  assert.ok(after.json.data.some((d) => isObject(d) && d.id === 'Late.Arrival'), `search right after the restore: ${after.text}`);
});

// --- 2. bare registration leaves -------------------------------------------------------------------------------

test('bare registration leaves are passed through bare, then completed from the nuspec once the nupkg is held; .nuspec comes from the held nupkg', async () => {
  const pkg = { id: 'Bare.Leaf', version: '1.0.0', authors: 'Jane Doe', description: 'A package the registry describes barely', dependencies: [{ id: 'Dep.One', range: '[1.0.0, )' }] };
  const up = await feed({ leaves: 'bare', nuspec: false, packages: [pkg] });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const regUrl = `${ng.url}/v3/registration/bare.leaf/index.json`;

  const bare = await get(regUrl);
  assert.equal(bare.status, 200, bare.text);
  const bareEntry = catalogEntry(inlinedLeaves(bare.json)[0] ?? {});
  assert.equal(bareEntry.version, '1.0.0');
  assert.notEqual(bareEntry.description, pkg.description, 'nothing held yet: the leaf is passed through as the upstream sent it');
  assert.ok(!JSON.stringify(bareEntry).includes('Dep.One'), 'no dependency is invented before the nuspec is held');

  const nuspecBefore = await get(`${ng.url}/v3/flatcontainer/bare.leaf/1.0.0/bare.leaf.nuspec`);
  assert.equal(nuspecBefore.status, 404, 'the upstream 404s the nuspec and no nupkg is held');

  const nupkg = await download(`${ng.url}/v3/flatcontainer/bare.leaf/1.0.0/bare.leaf.1.0.0.nupkg`);
  assert.equal(nupkg.status, 200, nupkg.error);
  await ng.nugate.settle();

  const full = await get(regUrl);
  assert.equal(full.status, 200, full.text);
  const entry = catalogEntry(inlinedLeaves(full.json)[0] ?? {});
  assert.equal(entry.description, pkg.description, `registration after the nupkg is held: ${full.text}`);
  assert.ok(String(entry.authors).includes('Jane Doe'), `authors: ${JSON.stringify(entry.authors)}`);
  assert.ok(Array.isArray(entry.dependencyGroups), `dependencyGroups: ${full.text}`);
  const deps = (entry.dependencyGroups as unknown[]).filter(isObject).flatMap((g) => (Array.isArray(g.dependencies) ? g.dependencies.filter(isObject) : []));
  assert.ok(deps.some((d) => d.id === 'Dep.One' && d.range === '[1.0.0, )'), `dependencies: ${JSON.stringify(entry.dependencyGroups)}`);

  const nuspec = await get(`${ng.url}/v3/flatcontainer/bare.leaf/1.0.0/bare.leaf.nuspec`);
  assert.equal(nuspec.status, 200, `nuspec of a held package when the upstream 404s it: ${nuspec.text}`);
  assert.equal(nuspec.text, shapedNuspec(pkg));
  for (const g of [bare, full, nuspec]) assert.deepEqual(upstreamTraces(g, [up]), []);
});

// --- 3. Artifactory-shaped upstream ----------------------------------------------------------------------------

test('Artifactory-shaped upstream (no flat container): versions from registration, downloads from packageContent, nothing leaks, other origins never fetched', async () => {
  const elsewhere = await feed({ flatContainer: false, packages: [{ id: 'Far.Away', version: '1.0.0' }] });
  let origin = '';
  const up = await feed({
    flatContainer: false,
    leaves: 'full',
    packages: [
      { id: 'Art.Pkg', version: '1.0.0' },
      { id: 'Art.Pkg', version: '1.1.0', description: 'second' },
      { id: 'Far.Away', version: '1.0.0' },
    ],
    packageContent: (id, v) => (id === 'far.away' ? `${elsewhere.origin}/api/download/${id}/${v}` : `${origin}/api/download/${id}/${v}`),
  });
  origin = up.origin;
  const ng = await nugate({ upstreams: [{ name: 'artifactory', url: up.indexUrl }] });
  const traces = [up, elsewhere];

  const index = await get(`${ng.url}/v3/index.json`);
  assert.ok(index.text.includes('PackageBaseAddress/3.0.0'), 'nugate always has a flat container');

  const list = await get(`${ng.url}/v3/flatcontainer/art.pkg/index.json`);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json, { versions: ['1.0.0', '1.1.0'] });

  const nupkg = await download(`${ng.url}/v3/flatcontainer/art.pkg/1.1.0/art.pkg.1.1.0.nupkg`);
  assert.equal(nupkg.status, 200, nupkg.error);
  assert.ok(nupkg.bytes !== undefined && nupkg.bytes.equals(up.nupkg('Art.Pkg', '1.1.0')), 'identical bytes');
  assert.equal(up.count('/api/download/art.pkg/1.1.0'), 1);

  const reg = await get(`${ng.url}/v3/registration/art.pkg/index.json`);
  assert.equal(reg.status, 200, reg.text);
  for (const leaf of inlinedLeaves(reg.json)) {
    assert.ok(typeof leaf.packageContent === 'string' && leaf.packageContent.startsWith(`${PUBLIC}/v3/flatcontainer/art.pkg/`), `packageContent: ${String(leaf.packageContent)}`);
  }
  const leaf = await get(`${ng.url}/v3/registration/art.pkg/1.1.0.json`);
  assert.equal(leaf.status, 200, leaf.text);
  const search = await get(`${ng.url}/v3/search?q=art.pkg`);

  for (const g of [index, list, reg, leaf, search]) assert.deepEqual(upstreamTraces(g, traces), [], g.text.slice(0, 500));

  // packageContent on another origin: listed, but never fetched.
  const farList = await get(`${ng.url}/v3/flatcontainer/far.away/index.json`);
  assert.equal(farList.status, 200, farList.text);
  const far = await download(`${ng.url}/v3/flatcontainer/far.away/1.0.0/far.away.1.0.0.nupkg`);
  assert.notEqual(far.status, 200, 'a packageContent outside the upstream is not followed');
  assert.equal(elsewhere.count('/api/download'), 0, `the other origin saw ${elsewhere.requests.map((r) => r.path).join(', ')}`);
  assert.deepEqual(upstreamTraces({ text: far.bytes?.toString('utf8') ?? '', headers: new Headers() }, traces), []);
});

// --- 5. two upstreams, a held list that lacks a new version ----------------------------------------------------

test('two upstreams: a version missing from a fresh held list but present upstream downloads (the list is revalidated), not 404', async () => {
  const a = await feed({ packages: [{ id: 'Shared.Pkg', version: '1.0.0' }] });
  const b = await feed({ packages: [{ id: 'Shared.Pkg', version: '1.0.0' }] });
  const ng = await nugate({
    upstreams: [
      { name: 'a', url: a.indexUrl },
      { name: 'b', url: b.indexUrl },
    ],
    // Equally specific patterns: both upstreams are eligible for the id (NuGet picks the most specific pattern).
    packageSourceMapping: { a: ['Shared.*'], b: ['Shared.*'] },
    cache: { ttl: { metadata: '1h' } },
  });
  const list = await get(`${ng.url}/v3/flatcontainer/shared.pkg/index.json`);
  assert.deepEqual(list.json, { versions: ['1.0.0'] });
  assert.equal(a.count('/flat/shared.pkg/index.json'), 1);

  // Published upstream after nugate took its (still fresh) list.
  a.add({ id: 'Shared.Pkg', version: '2.0.0' });
  const nupkg = await download(`${ng.url}/v3/flatcontainer/shared.pkg/2.0.0/shared.pkg.2.0.0.nupkg`);
  assert.equal(nupkg.status, 200, `a version the held list lacks: ${nupkg.error ?? nupkg.bytes?.toString('utf8')}`);
  assert.ok(nupkg.bytes?.equals(a.nupkg('Shared.Pkg', '2.0.0')), 'bytes from the upstream that has it');
  assert.equal(a.count('/flat/shared.pkg/index.json'), 2, 'the list was revalidated once');

  // A version nobody has is still a 404, after one recheck.
  const none = await download(`${ng.url}/v3/flatcontainer/shared.pkg/9.9.9/shared.pkg.9.9.9.nupkg`);
  assert.equal(none.status, 404);
});

// --- 12. offline registration from what is held ----------------------------------------------------------------

test('offline on a warm cache: registration of an id whose flat index and nupkg are held lists the held versions only; so does the flat index', async () => {
  const up = await feed({
    packages: [
      { id: 'Held.Pkg', version: '1.0.0', description: 'The held one', authors: 'Held Author' },
      { id: 'Held.Pkg', version: '2.0.0', description: 'Never downloaded' },
    ],
  });
  const dir = await tempDir(scope.defer);
  const upstreams = [{ name: 'registry', url: up.indexUrl }];
  const online = await startNugateInProcess({ publicUrl: PUBLIC, upstreams }, { cacheDir: dir });
  try {
    assert.deepEqual((await get(`${online.url}/v3/flatcontainer/held.pkg/index.json`)).json, { versions: ['1.0.0', '2.0.0'] });
    assert.equal((await download(`${online.url}/v3/flatcontainer/held.pkg/1.0.0/held.pkg.1.0.0.nupkg`)).status, 200);
    await online.nugate.settle();
  } finally {
    await online.stop();
  }
  assert.equal(up.count('/reg/'), 0, 'the registration was never fetched');

  const before = up.requests.length;
  const offline = await nugate({ upstreams, offline: true }, { cacheDir: dir });
  const reg = await get(`${offline.url}/v3/registration/held.pkg/index.json`);
  assert.equal(reg.status, 200, `offline registration of a held id: ${reg.text}`);
  const leaves = inlinedLeaves(reg.json);
  assert.deepEqual(leaves.map((l) => catalogEntry(l).version), ['1.0.0'], 'only versions nugate can serve');
  assert.equal(catalogEntry(leaves[0] ?? {}).description, 'The held one', 'metadata from the held nuspec');

  const list = await get(`${offline.url}/v3/flatcontainer/held.pkg/index.json`);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json, { versions: ['1.0.0'] });
  assert.equal((await download(`${offline.url}/v3/flatcontainer/held.pkg/1.0.0/held.pkg.1.0.0.nupkg`)).status, 200);
  assert.equal((await download(`${offline.url}/v3/flatcontainer/held.pkg/2.0.0/held.pkg.2.0.0.nupkg`)).status, 404);
  assert.equal(up.requests.length - before, 0, `offline, the upstream saw ${up.requests.slice(before).map((r) => r.path).join(', ')}`);
});

// --- 13. packageHash -------------------------------------------------------------------------------------------

test('a registration packageHash that does not match the nupkg: the download fails and nothing is cached; a matching one is served and kept', async () => {
  const wrong = createHash('sha512').update('not the package').digest('base64');
  const up = await feed({
    leaves: 'full',
    packages: [
      { id: 'Hash.Bad', version: '1.0.0', packageHash: wrong },
      { id: 'Hash.Good', version: '1.0.0', packageHash: 'correct' },
    ],
  });
  const ng = await nugate({ upstreams: [{ name: 'registry', url: up.indexUrl }] });
  const badPath = '/flat/hash.bad/1.0.0/hash.bad.1.0.0.nupkg';
  const expected = up.nupkg('Hash.Bad', '1.0.0');

  assert.equal((await get(`${ng.url}/v3/registration/hash.bad/index.json`)).status, 200);
  const first = await download(`${ng.url}/v3/flatcontainer/hash.bad/1.0.0/hash.bad.1.0.0.nupkg`);
  const failed = (r: typeof first): boolean => r.status !== 200 || r.error !== undefined || r.bytes === undefined || r.bytes.length < expected.length;
  assert.ok(failed(first), `a package whose sha512 contradicts the registration was served whole (status ${first.status}, ${first.bytes?.length ?? 0} bytes)`);
  await ng.nugate.settle();
  const second = await download(`${ng.url}/v3/flatcontainer/hash.bad/1.0.0/hash.bad.1.0.0.nupkg`);
  assert.ok(failed(second), 'the second download fails too');
  assert.equal(up.count(badPath), 2, 'nothing was cached: the second request went to the upstream again');

  assert.equal((await get(`${ng.url}/v3/registration/hash.good/index.json`)).status, 200);
  const good = await download(`${ng.url}/v3/flatcontainer/hash.good/1.0.0/hash.good.1.0.0.nupkg`);
  assert.equal(good.status, 200, good.error);
  assert.ok(good.bytes?.equals(up.nupkg('Hash.Good', '1.0.0')));
  await ng.nugate.settle();
  assert.equal((await download(`${ng.url}/v3/flatcontainer/hash.good/1.0.0/hash.good.1.0.0.nupkg`)).status, 200);
  assert.equal(up.count('/flat/hash.good/1.0.0/hash.good.1.0.0.nupkg'), 1, 'a verified package is kept');
});
