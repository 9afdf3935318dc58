/**
 * Issue 8, "Done when", the part the real `dotnet` client shows end to end (ARCHITECTURE.md: freshness rule,
 * status model, the Source contract's "capabilities are the same online and offline", search from what is held):
 *
 * 1. A version added upstream is restorable through nugate right after `cache.ttl.metadata`.
 * 2. A warm restore with `-warnaserror` succeeds while the upstream is down (stale copies are served quietly).
 * 3. `dotnet nuget push` works after an offline restart (the client caches nugate's service index, so the offline
 *    index must still advertise PackagePublish); offline, a push is refused with a reason that says so.
 * 4. Offline, `dotnet add package X` with no version picks a version nugate holds.
 * 5. `dotnet package search` finds a held package when the upstream has no search service.
 *
 * Topology for each: loopback upstream (static feed of generated, unsigned packages, or the publishable feed) ←
 * nugate (the real CLI as a child process) ← dotnet (isolated: NuGet.Config with <clear/> and only nugate,
 * NUGET_PACKAGES and the http cache in a temp dir). No test touches the internet.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FORBIDDEN_NUGET_CODES,
  describeResult,
  makeIsolatedDotnet,
  nugetCodes,
  requestedUrls,
  type DotnetResult,
  type IsolatedDotnet,
  type PackageRef,
} from '../helpers/dotnet.ts';
import { writeNupkg, type WrittenNupkg } from '../helpers/e2e-nupkg.ts';
import { startPublishableFeed } from '../helpers/e2e-publish-feed.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { loadPackageFromNupkg, sha512OfFile } from '../helpers/packages.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

const RESTORE_TIMEOUT_MS = 90_000;

interface AssetsFile {
  libraries: Record<string, { type: string; sha512?: string }>;
}

function context(r: DotnetResult, nugate: NugateProcess): string {
  return `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
}

async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

async function isolatedClient(t: TestContext, nugate: { indexUrl: string }): Promise<IsolatedDotnet> {
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  return dotnet;
}

/** Empties the client's NUGET_PACKAGES and http cache: the next command must ask nugate for everything again. */
async function clearClientCaches(dotnet: IsolatedDotnet): Promise<void> {
  for (const dir of [dotnet.packagesDir, dotnet.httpCacheDir]) {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    await mkdir(dir, { recursive: true });
  }
}

/**
 * `dotnet restore` of a new project with the given references through nugate alone; asserts exit 0, no source
 * problem codes and that every URL the client fetched is nugate's. Returns the result and the project dir.
 */
async function restoreThrough(
  dotnet: IsolatedDotnet,
  nugate: NugateProcess,
  project: string,
  refs: PackageRef[],
  extraArgs: string[] = [],
): Promise<{ r: DotnetResult; dir: string }> {
  const dir = await dotnet.writeProject(project, refs);
  const r = await dotnet.run(['restore', dir, '--configfile', dotnet.configFile, '-v', 'n', ...extraArgs], { timeoutMs: RESTORE_TIMEOUT_MS });
  assert.equal(r.code, 0, context(r, nugate));
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context(r, nugate)}`);
  const urls = requestedUrls(r);
  for (const u of urls) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
  return { r, dir };
}

async function assertRestored(dotnet: IsolatedDotnet, projectDir: string, pkg: WrittenNupkg, id: string, version: string): Promise<void> {
  const assets = JSON.parse(await readFile(join(projectDir, 'obj', 'project.assets.json'), 'utf8')) as AssetsFile;
  assert.ok(`${id}/${version}` in assets.libraries, `${id}/${version} not in project.assets.json: ${Object.keys(assets.libraries).join(', ')}`);
  const lower = id.toLowerCase();
  const installed = join(dotnet.packagesDir, lower, version, `${lower}.${version}.nupkg`);
  assert.equal(await sha512OfFile(installed), pkg.sha512, `the restored ${id} ${version} is not the upstream's package`);
}

async function flatVersions(nugate: NugateProcess, lowerId: string): Promise<{ versions: unknown; xCache: string | null; warning: string | null; status: number }> {
  const res = await fetch(`${nugate.baseUrl}/v3/flatcontainer/${lowerId}/index.json`, { signal: AbortSignal.timeout(15_000) });
  const status = res.status;
  const body = await res.text();
  let versions: unknown = body;
  try {
    versions = (JSON.parse(body) as { versions?: unknown }).versions;
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { versions, xCache: res.headers.get('x-cache'), warning: res.headers.get('x-nuget-warning'), status };
}

/** A port on 127.0.0.1 that was free a moment ago: nugate restarts on it so the client sees the same source URL. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The service index documents the client keeps in its http cache (NuGet caches `index.json` of every V3 source). */
async function cachedServiceIndexes(httpCacheDir: string): Promise<Array<{ path: string; types: string[] }>> {
  const out: Array<{ path: string; types: string[] }> = [];
  for (const path of await filesUnder(httpCacheDir)) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null || !('resources' in doc)) continue;
    const resources = (doc as { resources: unknown }).resources;
    if (!Array.isArray(resources)) continue;
    const types = resources.flatMap((r: unknown) => {
      if (typeof r !== 'object' || r === null) return [];
      const type = (r as { '@type'?: unknown })['@type'];
      return Array.isArray(type) ? type.filter((x): x is string => typeof x === 'string') : typeof type === 'string' ? [type] : [];
    });
    out.push({ path, types });
  }
  return out;
}

test('1. a version added upstream is restorable through nugate right after cache.ttl.metadata', { timeout: 180_000 }, async (t) => {
  const TTL_MS = 3_000;
  const work = await tempDir(t, 'nugate-sources-fresh-');
  const v1 = await writeNupkg(work, { id: 'Contoso.Fresh', version: '1.0.0' });
  const v11 = await writeNupkg(work, { id: 'Contoso.Fresh', version: '1.1.0' });
  const feed = await startStaticFeed({ packages: [], extraPackages: [{ path: v1.path }] });
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'internal', url: feed.indexUrl }], { cache: { ttl: { metadata: '3s' } } }) });
  t.after(() => nugate.stop());

  // A first restore of 1.0.0: nugate now holds the versions list [1.0.0].
  const first = await isolatedClient(t, nugate);
  const { dir: app1 } = await restoreThrough(first, nugate, 'App1', [{ id: 'Contoso.Fresh', version: '1.0.0' }]);
  await assertRestored(first, app1, v1, 'Contoso.Fresh', '1.0.0');

  // Control: within the TTL nugate answers from its copy, so what follows measures the TTL, not a pass-through.
  // Let the list from the restore expire, read it once (nugate stores a fresh copy), publish 1.1.0 upstream.
  await sleep(TTL_MS + 500);
  const before = await flatVersions(nugate, 'contoso.fresh');
  assert.deepEqual(before.versions, ['1.0.0']);
  const storedBy = performance.now();
  feed.addPackage(await loadPackageFromNupkg(v11.path));
  assert.deepEqual(await (await fetch(`${feed.flatContainerUrl}contoso.fresh/index.json`)).json(), { versions: ['1.0.0', '1.1.0'] });
  const held = await flatVersions(nugate, 'contoso.fresh');
  assert.ok(performance.now() - storedBy < TTL_MS, 'the control read came too late to be inside the TTL');
  assert.deepEqual(held.versions, ['1.0.0'], `within cache.ttl.metadata nugate did not answer from its copy (X-Cache ${String(held.xCache)}); the test below proves nothing`);
  assert.equal(held.xCache, 'HIT');

  // Just past the TTL: a client with empty caches asks for 1.1.0. Its first (and only) versions-list request is the
  // first one nugate gets after the TTL, so it must be answered after revalidation, not from the stale copy.
  const wait = storedBy + TTL_MS + 300 - performance.now();
  if (wait > 0) await sleep(wait);
  const readsBefore = feed.count('/v3-flatcontainer/contoso.fresh/index.json');
  const second = await isolatedClient(t, nugate);
  const { dir: app2 } = await restoreThrough(second, nugate, 'App2', [{ id: 'Contoso.Fresh', version: '1.1.0' }]);
  await assertRestored(second, app2, v11, 'Contoso.Fresh', '1.1.0');
  assert.ok(feed.count('/v3-flatcontainer/contoso.fresh/index.json') > readsBefore, 'nugate never revalidated the versions list');
});

test('2. a warm restore with -warnaserror succeeds while the upstream is down, with no NU1801/NU1301', { timeout: 180_000 }, async (t) => {
  const work = await tempDir(t, 'nugate-sources-down-');
  const a = await writeNupkg(work, { id: 'Contoso.Warm.A', version: '1.0.0' });
  const b = await writeNupkg(work, { id: 'Contoso.Warm.B', version: '2.0.0' });
  const feed = await startStaticFeed({ packages: [], extraPackages: [{ path: a.path }, { path: b.path }] });
  t.after(() => feed.close());
  // Every TTL short: when the upstream is gone, every document nugate holds is stale and must be revalidated first.
  const ttl = { metadata: '1s', search: '1s', notFound: '1s', serviceIndex: '1s' };
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'internal', url: feed.indexUrl, timeout: '5s' }], { cache: { ttl } }) });
  t.after(() => nugate.stop());
  const refs = [
    { id: 'Contoso.Warm.A', version: '1.0.0' },
    { id: 'Contoso.Warm.B', version: '2.0.0' },
  ];
  const strict = ['-warnaserror', '-p:TreatWarningsAsErrors=true'];

  // Warm: an online restore (with -warnaserror too: the baseline has no warning at all).
  const warm = await isolatedClient(t, nugate);
  const { r: online } = await restoreThrough(warm, nugate, 'Warm', refs, strict);
  assert.deepEqual(nugetCodes(online), [], `the online baseline restore printed NuGet codes\n${context(online, nugate)}`);

  // The upstream goes down (connection refused), and the TTLs run out.
  await feed.close();
  await assert.rejects(fetch(feed.indexUrl, { signal: AbortSignal.timeout(5_000) }), 'the upstream still answers');
  await sleep(1_500);

  // Two brand-new clients in a row: the first meets documents whose revalidation has not been tried yet, the second
  // meets documents whose upstream is already known to be failing (the stale answers nugate gives every client
  // after the first). Both must restore quietly: nothing is missing.
  for (const name of ['Down1', 'Down2']) {
    const cold = await isolatedClient(t, nugate);
    const { r, dir } = await restoreThrough(cold, nugate, name, refs, strict);
    const ctx = `[${name}] ${context(r, nugate)}`;
    assert.deepEqual(nugetCodes(r), [], `a restore of held packages printed NuGet codes while the upstream is down\n${ctx}`);
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /\bwarning\b(?!\(s\))/i, ctx);
    assert.match(r.stdout, /\b0 Warning\(s\)/, ctx);
    await assertRestored(cold, dir, a, 'Contoso.Warm.A', '1.0.0');
    await assertRestored(cold, dir, b, 'Contoso.Warm.B', '2.0.0');
  }

  // What the client got was the held copy, served quietly (no X-NuGet-Warning by default).
  const stale = await flatVersions(nugate, 'contoso.warm.a');
  assert.equal(stale.status, 200);
  assert.deepEqual(stale.versions, ['1.0.0']);
  assert.equal(stale.xCache, 'STALE', 'the held versions list was not past its TTL: the down-upstream restore proves nothing');
  assert.equal(stale.warning, null, `a stale answer carried X-NuGet-Warning: ${String(stale.warning)}`);

  // Control: -warnaserror really turns NuGet warnings into a failure here (NU1603: 0.9.0 missing, 1.0.0 used).
  const control = await isolatedClient(t, nugate);
  const controlDir = await control.writeProject('Control', [{ id: 'Contoso.Warm.A', version: '0.9.0' }]);
  const c = await control.run(['restore', controlDir, '--configfile', control.configFile, ...strict], { timeoutMs: RESTORE_TIMEOUT_MS });
  assert.notEqual(c.code, 0, `-warnaserror did not fail a restore with NU1603, so the check above proves nothing\n${context(c, nugate)}`);
  assert.ok(nugetCodes(c).includes('NU1603'), context(c, nugate));
});

test('3. dotnet nuget push works after an offline restart; offline, a push is refused as offline', { timeout: 240_000 }, async (t) => {
  const KEY = `oy2${randomBytes(20).toString('hex')}`;
  const cacheDir = await tempDir(t, 'nugate-sources-push-cache-');
  const work = await tempDir(t, 'nugate-sources-push-');
  const v1 = await writeNupkg(work, { id: 'Contoso.Pushed', version: '1.0.0' });
  const v2 = await writeNupkg(work, { id: 'Contoso.Pushed', version: '2.0.0' });
  const upstream = await startPublishableFeed({ apiKey: KEY, extraPackages: [{ path: v1.path }] });
  t.after(() => upstream.close());
  const { feed, publisher } = upstream;

  // The same port every time: NuGet keys its http cache (service index included) by the source URL.
  const port = await freePort();
  const config = nugateConfigFor([{ name: 'internal', url: feed.indexUrl }], { cache: { dir: cacheDir }, publish: { keyMode: 'passthrough' } });
  const start = async (offline: boolean): Promise<NugateProcess> => {
    const n = await startNugate({ config, args: ['--port', String(port), ...(offline ? ['--offline'] : [])] });
    t.after(() => n.stop());
    assert.equal(new URL(n.baseUrl).port, String(port), 'nugate did not listen on the port it was given');
    return n;
  };
  const publishTypes = async (n: NugateProcess): Promise<string[]> => {
    const index = (await (await fetch(n.indexUrl)).json()) as { resources: Array<{ '@type': string }> };
    return index.resources.map((r) => r['@type']).filter((x) => x.startsWith('PackagePublish/'));
  };

  // One client for every phase: its http cache is what carries the service index from one phase to the next.
  let nugate = await start(false);
  const dotnet = await isolatedClient(t, nugate);
  assert.ok((await publishTypes(nugate)).length > 0, 'online nugate does not advertise PackagePublish');
  const { dir } = await restoreThrough(dotnet, nugate, 'App', [{ id: 'Contoso.Pushed', version: '1.0.0' }]);
  await assertRestored(dotnet, dir, v1, 'Contoso.Pushed', '1.0.0');
  assert.equal(await nugate.stop(), 0);

  // Offline on the same cache dir; the client, caches cleared, fetches (and caches) the service index again.
  nugate = await start(true);
  const offlineTypes = await publishTypes(nugate);
  await clearClientCaches(dotnet);
  await rm(join(dir, 'obj'), { recursive: true, force: true });
  const offlineRestore = await dotnet.run(['restore', dir, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: RESTORE_TIMEOUT_MS });
  assert.equal(offlineRestore.code, 0, context(offlineRestore, nugate));
  const cached = await cachedServiceIndexes(dotnet.httpCacheDir);
  assert.ok(cached.length > 0, `the client did not cache nugate's service index (files: ${(await filesUnder(dotnet.httpCacheDir)).join(', ')}), so this test proves nothing`);

  await t.test('offline: a push is refused with a reason that says offline, not "does not support updating packages"', async () => {
    const r = await dotnet.run(['nuget', 'push', v2.path, '-s', nugate.indexUrl, '-k', KEY, '--configfile', dotnet.configFile], { timeoutMs: 90_000 });
    const out = `${r.stdout}${r.stderr}`;
    assert.notEqual(r.code, 0, context(r, nugate));
    assert.doesNotMatch(out, /does not support updating packages/i, `offline nugate's service index lost PackagePublish\n${context(r, nugate)}`);
    assert.match(out, /offline/i, `the refusal does not say nugate is offline\n${context(r, nugate)}`);
    assert.match(out, /503/, context(r, nugate));
    assert.equal(publisher.requests.filter((x) => x.method === 'PUT').length, 0, 'an offline nugate forwarded a push');
  });

  await t.test('the service index is the same offline as online (PackagePublish kept)', () => {
    assert.ok(offlineTypes.length > 0, 'offline nugate does not advertise PackagePublish');
    for (const c of cached) {
      assert.ok(
        c.types.some((x) => x.startsWith('PackagePublish/')),
        `the service index the client cached from offline nugate has no PackagePublish (${c.path}): ${c.types.join(', ')}`,
      );
    }
  });
  assert.equal(await nugate.stop(), 0);

  // Back online on the same port and cache dir; the client keeps the service index it cached while offline.
  nugate = await start(false);
  await t.test('back online: dotnet nuget push through nugate succeeds', async () => {
    const r = await dotnet.run(['nuget', 'push', v2.path, '-s', nugate.indexUrl, '-k', KEY, '--configfile', dotnet.configFile], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r, nugate));
    assert.match(r.stdout, /Your package was pushed/, context(r, nugate));
    const stored = publisher.packages.get('contoso.pushed/2.0.0');
    assert.ok(stored !== undefined, 'the upstream did not store Contoso.Pushed 2.0.0');
  });
});

test('4. offline, dotnet add package X (no version) picks the version nugate holds', { timeout: 180_000 }, async (t) => {
  const cacheDir = await tempDir(t, 'nugate-sources-add-cache-');
  const work = await tempDir(t, 'nugate-sources-add-');
  const v1 = await writeNupkg(work, { id: 'Contoso.Adder', version: '1.0.0' });
  // A newer version exists upstream but was never fetched through nugate: offline it cannot be served.
  const v2 = await writeNupkg(work, { id: 'Contoso.Adder', version: '2.0.0' });
  const feed = await startStaticFeed({ packages: [], extraPackages: [{ path: v1.path }, { path: v2.path }] });
  t.after(() => feed.close());
  const config = nugateConfigFor([{ name: 'internal', url: feed.indexUrl }], { cache: { dir: cacheDir } });

  // Warm with a plain restore of 1.0.0 (the client asks for the flat index and the nupkg, not the registration).
  const online = await startNugate({ config });
  t.after(() => online.stop());
  const warm = await isolatedClient(t, online);
  const { dir: warmDir } = await restoreThrough(warm, online, 'Warm', [{ id: 'Contoso.Adder', version: '1.0.0' }]);
  await assertRestored(warm, warmDir, v1, 'Contoso.Adder', '1.0.0');
  const registrationReads = feed.count('/v3/registration/contoso.adder/');
  assert.equal(await online.stop(), 0);

  feed.resetRequests();
  const nugate = await startNugate({ config, args: ['--offline'] });
  t.after(() => nugate.stop());
  const dotnet = await isolatedClient(t, nugate);
  const project = await dotnet.writeProject('Fresh', []);
  // `dotnet add package` takes no --configfile: the project sits under dotnet.dir, whose NuGet.Config is found first.
  const r = await dotnet.run(['add', 'package', 'Contoso.Adder'], { cwd: project, timeoutMs: RESTORE_TIMEOUT_MS });
  const ctx = `${context(r, nugate)}\n(nugate read the upstream registration of contoso.adder ${registrationReads} time(s) while warm)`;
  assert.equal(r.code, 0, ctx);
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in output\n${ctx}`);
  for (const u of requestedUrls(r)) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
  const csproj = await readFile(join(project, 'Fresh.csproj'), 'utf8');
  assert.match(csproj, /<PackageReference Include="Contoso\.Adder" Version="1\.0\.0" \/>/, `${csproj}\n${ctx}`);
  await assertRestored(dotnet, project, v1, 'Contoso.Adder', '1.0.0');
  assert.deepEqual(feed.requests.map((x) => `${x.method} ${x.url}`), [], 'an --offline nugate contacted the upstream');
});

interface SearchOutput {
  problems?: Array<{ text?: string; problemType?: string }>;
  searchResult?: Array<{ sourceName?: string; packages?: Array<{ id?: string; latestVersion?: string }> }>;
}

test('5. dotnet package search finds a held package when the upstream has no search service', { timeout: 180_000 }, async (t) => {
  const work = await tempDir(t, 'nugate-sources-search-');
  const held = await writeNupkg(work, { id: 'Contoso.Findable', version: '1.2.0', description: 'Quasar widgets for the sources e2e test' });
  const feed = await startStaticFeed({ packages: [], extraPackages: [{ path: held.path }], advertise: ['PackageBaseAddress', 'RegistrationsBaseUrl'] });
  t.after(() => feed.close());
  const upstreamIndex = (await (await fetch(feed.indexUrl)).json()) as { resources: Array<{ '@type': string }> };
  assert.ok(!upstreamIndex.resources.some((r) => r['@type'].startsWith('SearchQueryService')), 'the upstream advertises search');

  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'nosearch', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());
  const dotnet = await isolatedClient(t, nugate);
  const { dir } = await restoreThrough(dotnet, nugate, 'App', [{ id: 'Contoso.Findable', version: '1.2.0' }]);
  await assertRestored(dotnet, dir, held, 'Contoso.Findable', '1.2.0');

  const r = await dotnet.run(['package', 'search', 'Findab', '--source', nugate.indexUrl, '--configfile', dotnet.configFile, '--format', 'json'], { timeoutMs: 90_000 });
  const ctx = context(r, nugate);
  assert.equal(r.code, 0, ctx);
  let out: SearchOutput;
  try {
    out = JSON.parse(r.stdout) as SearchOutput;
  } catch {
    assert.fail(`search output is not JSON\n${ctx}`);
  }
  assert.deepEqual(out.problems ?? [], [], ctx);
  const packages = (out.searchResult ?? []).flatMap((s) => s.packages ?? []);
  const found = packages.find((p) => p.id === 'Contoso.Findable');
  assert.ok(found !== undefined, `Contoso.Findable not found by a search for part of its id: ${JSON.stringify(packages)}\n${ctx}`);
  assert.equal(found.latestVersion, '1.2.0');
  assert.equal(feed.count('/query'), 0, 'nugate asked a search endpoint the upstream never advertised');

  // The local index also knows the held nuspec's description (ARCHITECTURE.md: id, title, tags, description).
  const res = await fetch(`${nugate.baseUrl}/v3/search?q=quasar&prerelease=true&semVerLevel=2.0.0`);
  assert.equal(res.status, 200);
  const byDescription = (await res.json()) as { data?: Array<{ id?: string }> };
  assert.deepEqual((byDescription.data ?? []).map((d) => d.id), ['Contoso.Findable'], 'a search for a word of the held description');
});
