/**
 * Proves the static feed harness is a faithful V3 feed, independently of nugate: the real NuGet client restores,
 * adds and searches against it directly. If these fail, every nugate e2e failure is suspect; if they pass, a
 * nugate e2e failure is nugate's.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import {
  FORBIDDEN_NUGET_CODES,
  describeResult,
  makeIsolatedDotnet,
  nugetCodes,
  requestedUrls,
  verifySignatures,
} from '../helpers/dotnet.ts';
import { findPackage, loadPackages, sha512OfFile } from '../helpers/packages.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.status === 200 ? (JSON.parse(text) as unknown) : text };
}

function obj(v: unknown): Record<string, unknown> {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected a JSON object, got ${JSON.stringify(v)?.slice(0, 200)}`);
  return v as Record<string, unknown>;
}

function arr(v: unknown): unknown[] {
  assert.ok(Array.isArray(v), `expected a JSON array, got ${JSON.stringify(v)?.slice(0, 200)}`);
  return v;
}

test('service index: absolute resource URLs on its own origin, with the types NuGet.Protocol looks for', async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const { status, headers, body } = await getJson(feed.indexUrl);
  assert.equal(status, 200);
  assert.match(headers.get('content-type') ?? '', /application\/json/);
  const index = obj(body);
  assert.equal(index['version'], '3.0.0');
  const resources = arr(index['resources']).map(obj);
  for (const r of resources) {
    // Browser templates live on the gallery host, as nuget.org's live on www.nuget.org; everything else is the API's.
    if (String(r['@type']).includes('UriTemplate')) assert.ok(String(r['@id']).startsWith('https://gallery.nuget.test/'));
    else assert.ok(String(r['@id']).startsWith(`${feed.url}/`), `${String(r['@id'])} is not on ${feed.url}`);
  }
  const byType = (type: string) => resources.filter((r) => r['@type'] === type).map((r) => r['@id']);
  assert.deepEqual(byType('PackageBaseAddress/3.0.0'), [feed.flatContainerUrl]);
  assert.deepEqual(byType('RegistrationsBaseUrl/3.6.0'), [feed.registrationUrl]);
  assert.deepEqual(byType('RegistrationsBaseUrl/Versioned'), [feed.registrationUrl]);
  assert.deepEqual(byType('SearchQueryService/3.0.0-beta'), [feed.searchUrl]);
  assert.deepEqual(byType('SearchQueryService/3.5.0'), [feed.searchUrl]);
  assert.deepEqual(byType('SearchAutocompleteService/3.0.0-beta'), [feed.autocompleteUrl]);
  assert.deepEqual(byType('PackagePublish/2.0.0'), [feed.publishUrl]);
  assert.equal(byType('VulnerabilityInfo/6.7.0').length, 1);

  const vuln = arr((await getJson(String(byType('VulnerabilityInfo/6.7.0')[0]))).body).map(obj);
  assert.equal(vuln.length, 1);
  assert.deepEqual((await getJson(String(vuln[0]?.['@id']))).body, {});

  const push = await fetch(`${feed.publishUrl}/`, { method: 'PUT', body: 'x' });
  assert.equal(push.status, 404);
  await push.body?.cancel();
});

test('flat container: versions, byte-identical nupkgs, lowercase-only paths, HEAD and Range', async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const sdk = findPackage(store, 'Microsoft.NET.Test.Sdk');
  const idx = await getJson(`${feed.flatContainerUrl}microsoft.net.test.sdk/index.json`);
  assert.deepEqual(idx.body, { versions: ['18.0.1'] });
  assert.equal((await fetch(`${feed.flatContainerUrl}Microsoft.NET.Test.Sdk/index.json`)).status, 404);
  assert.equal((await fetch(`${feed.flatContainerUrl}no.such.package/index.json`)).status, 404);

  const nupkgUrl = `${feed.flatContainerUrl}microsoft.net.test.sdk/18.0.1/microsoft.net.test.sdk.18.0.1.nupkg`;
  const res = await fetch(nupkgUrl);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(bytes.length, sdk.size);
  assert.deepEqual(bytes, await readFile(sdk.nupkgPath));

  const head = await fetch(nupkgUrl, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(sdk.size));
  const ranged = await fetch(nupkgUrl, { headers: { Range: 'bytes=0-99' } });
  assert.equal(ranged.status, 206);
  assert.equal((await ranged.arrayBuffer()).byteLength, 100);

  assert.equal((await fetch(`${feed.flatContainerUrl}microsoft.net.test.sdk/18.0.1/Microsoft.NET.Test.Sdk.18.0.1.nupkg`)).status, 404);
  const nuspec = await fetch(`${feed.flatContainerUrl}microsoft.net.test.sdk/18.0.1/microsoft.net.test.sdk.nuspec`);
  assert.equal(nuspec.status, 200);
  assert.match(await nuspec.text(), /<id>Microsoft\.NET\.Test\.Sdk<\/id>/);
  assert.equal(feed.count('/v3-flatcontainer/'), 8);
  assert.equal(feed.count((r) => r.method === 'HEAD'), 1);
});

test('registration: nuget.org-shaped inlined index, gzip-encoded whatever the client accepts', async (t) => {
  const feed = await startStaticFeed({ gzipRegistration: true });
  t.after(() => feed.close());
  // A raw request without Accept-Encoding still gets gzip, like nuget.org's registration5-gz-semver2 hive.
  const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
    httpGet(`${feed.registrationUrl}xunit/index.json`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
  assert.equal(raw.encoding, 'gzip');
  const index = obj(JSON.parse(gunzipSync(raw.body).toString('utf8')));
  assert.equal(index['@id'], `${feed.registrationUrl}xunit/index.json`);
  assert.equal(index['count'], 1);
  const page = obj(arr(index['items'])[0]);
  assert.equal(page['@id'], `${feed.registrationUrl}xunit/index.json#page/2.9.3/2.9.3`);
  assert.equal(page['lower'], '2.9.3');
  assert.equal(page['upper'], '2.9.3');
  assert.equal(page['parent'], index['@id']);
  const leaf = obj(arr(page['items'])[0]);
  assert.equal(leaf['@id'], `${feed.registrationUrl}xunit/2.9.3.json`);
  assert.equal(leaf['packageContent'], `${feed.flatContainerUrl}xunit/2.9.3/xunit.2.9.3.nupkg`);
  assert.equal(leaf['registration'], index['@id']);
  const entry = obj(leaf['catalogEntry']);
  assert.equal(entry['id'], 'xunit');
  assert.equal(entry['version'], '2.9.3');
  assert.equal(entry['listed'], true);
  const deps = arr(obj(arr(entry['dependencyGroups'])[0])['dependencies']).map(obj);
  assert.deepEqual(
    deps.map((d) => [d['id'], d['range'], d['registration']]),
    [
      ['xunit.core', '[2.9.3, 2.9.3]', `${feed.registrationUrl}xunit.core/index.json`],
      ['xunit.assert', '[2.9.3, )', `${feed.registrationUrl}xunit.assert/index.json`],
      ['xunit.analyzers', '[1.18.0, )', `${feed.registrationUrl}xunit.analyzers/index.json`],
    ],
  );
  // fetch() decodes transparently; the leaf and catalog entry it points at resolve too.
  const leafDoc = obj((await getJson(String(leaf['@id']))).body);
  assert.equal(leafDoc['catalogEntry'], entry['@id']);
  assert.equal((await getJson(String(entry['@id']))).status, 200);
  assert.equal((await fetch(`${feed.registrationUrl}Xunit/index.json`)).status, 404);
});

test('search and autocomplete: nuget.org-shaped results, filters and paging', async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const res = obj((await getJson(`${feed.searchUrl}?q=xunit&skip=0&take=3&prerelease=false&semVerLevel=2.0.0`)).body);
  assert.equal(res['totalHits'], 8);
  const data = arr(res['data']).map(obj);
  assert.equal(data.length, 3);
  assert.equal(data[0]?.['id'], 'xunit', 'an exact id match ranks first');
  for (const d of data) {
    assert.equal(typeof d['totalDownloads'], 'number');
    assert.ok(String(d['registration']).startsWith(feed.registrationUrl));
    const versions = arr(d['versions']).map(obj);
    assert.ok(versions.length > 0);
    for (const v of versions) assert.ok(String(v['@id']).startsWith(feed.registrationUrl));
    assert.deepEqual(d['packageTypes'], [{ name: 'Dependency' }]);
  }
  const json = arr(obj((await getJson(`${feed.searchUrl}?q=json`)).body)['data']).map(obj);
  assert.equal(json[0]?.['id'], 'Newtonsoft.Json');
  assert.ok(Number(json[0]?.['totalDownloads']) > 2 ** 32, 'totalDownloads exercises int64');
  assert.equal(arr(obj((await getJson(`${feed.searchUrl}?q=packageid:xunit.core`)).body)['data']).length, 1);
  assert.equal(arr(obj((await getJson(`${feed.searchUrl}?q=xunit&packageType=DotnetTool`)).body)['data']).length, 0);
  assert.equal(arr(obj((await getJson(`${feed.searchUrl}?take=5000`)).body)['data']).length, 16, 'take over 1000 falls back to 20');

  const ids = obj((await getJson(`${feed.autocompleteUrl}?q=xunit.ext`)).body);
  assert.deepEqual(arr(ids['data']).sort(), ['xunit.extensibility.core', 'xunit.extensibility.execution']);
  const versions = obj((await getJson(`${feed.autocompleteUrl}?id=Newtonsoft.Json&prerelease=true&semVerLevel=2.0.0`)).body);
  assert.deepEqual(versions['data'], ['13.0.3']);
});

test('unlisted versions stay downloadable but leave search', async (t) => {
  const feed = await startStaticFeed({ unlisted: [{ id: 'Newtonsoft.Json', version: '13.0.3' }] });
  t.after(() => feed.close());
  assert.deepEqual((await getJson(`${feed.flatContainerUrl}newtonsoft.json/index.json`)).body, { versions: ['13.0.3'] });
  const reg = obj((await getJson(`${feed.registrationUrl}newtonsoft.json/index.json`)).body);
  const entry = obj(obj(arr(obj(arr(reg['items'])[0])['items'])[0])['catalogEntry']);
  assert.equal(entry['listed'], false);
  assert.match(String(entry['published']), /^1900-01-01/);
  assert.equal(obj((await getJson(`${feed.searchUrl}?q=json`)).body)['totalHits'], 0);
});

test('dotnet restore of an xunit test project directly against the static feed', async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'static', url: feed.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('Tests', [
    { id: 'xunit', version: '2.9.3' },
    { id: 'xunit.runner.visualstudio', version: '3.1.5' },
    { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
    { id: 'coverlet.collector', version: '6.0.4' },
  ]);

  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n']);
  assert.equal(r.code, 0, describeResult(r));
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${describeResult(r)}`);
  // xunit 2.9.3 asks for xunit.analyzers >= 1.18.0 and the store has 1.26.0: NU1603 is the one expected warning.
  assert.deepEqual(codes, ['NU1603'], describeResult(r));
  assert.ok(requestedUrls(r).length > 0, 'the verbose log lists the HTTP requests');
  for (const u of requestedUrls(r)) assert.ok(u.startsWith(feed.url), `client fetched ${u}`);

  const restored = await loadPackages(dotnet.packagesDir, { verifyHashes: true });
  const restoredIds = restored.map((p) => p.id);
  for (const id of ['xunit', 'xunit.core', 'xunit.extensibility.execution', 'xunit.abstractions', 'Microsoft.NET.Test.Sdk', 'Microsoft.TestPlatform.TestHost', 'Microsoft.TestPlatform.ObjectModel', 'Newtonsoft.Json', 'Microsoft.CodeCoverage']) {
    assert.ok(restoredIds.includes(id), `${id} was not restored (got ${restoredIds.join(', ')})`);
  }
  for (const p of restored) {
    assert.equal(p.sha512, findPackage(store, p.id, p.version).sha512, `${p.id} ${p.version} differs from the store`);
  }
  assert.equal(feed.count('/v3/index.json'), 1);
  assert.equal(feed.count((x) => x.url.endsWith('.nupkg')), restored.length, 'one download per restored package');
});

test('dotnet add package (no version) resolves the latest version through gzip registration', async (t) => {
  const feed = await startStaticFeed({ gzipRegistration: true });
  t.after(() => feed.close());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'static', url: feed.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('App', []);
  const r = await dotnet.run(['add', 'package', 'Newtonsoft.Json'], { cwd: project });
  assert.equal(r.code, 0, describeResult(r));
  assert.match(await readFile(join(project, 'App.csproj'), 'utf8'), /<PackageReference Include="Newtonsoft\.Json" Version="13\.0\.3" \/>/);
  assert.ok(feed.count('/v3/registration/newtonsoft.json/index.json') >= 1, 'the version came from registration');
});

test('dotnet package search against the static feed', async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'static', url: feed.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const r = await dotnet.run(['package', 'search', 'xunit', '--source', feed.indexUrl, '--configfile', dotnet.configFile, '--format', 'json']);
  assert.equal(r.code, 0, describeResult(r));
  const out = obj(JSON.parse(r.stdout));
  assert.deepEqual(out['problems'], []);
  const ids = arr(out['searchResult']).flatMap((s) => arr(obj(s)['packages']).map((p) => obj(p)['id']));
  assert.ok(ids.includes('xunit'), `search returned ${ids.join(', ')}`);
  assert.equal(feed.count('/query?'), 1);
});

test('verifySignatures passes a real signed package and fails a tampered copy', async (t) => {
  const xunit = findPackage(store, 'xunit', '2.9.3');
  const ok = await verifySignatures(xunit.nupkgPath);
  assert.equal(ok.code, 0, describeResult(ok));
  assert.match(ok.stdout, /Successfully verified package 'xunit\.2\.9\.3'/);

  const dotnet = await makeIsolatedDotnet({ sources: [] });
  t.after(() => dotnet.cleanup());
  const tampered = join(dotnet.dir, 'xunit.2.9.3.nupkg');
  await copyFile(xunit.nupkgPath, tampered);
  const bytes = await readFile(tampered);
  // Flip a byte inside the first entry's compressed data (well past the 30-byte local header and name).
  const at = 200;
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(tampered, bytes);
  assert.notEqual(await sha512OfFile(tampered), xunit.sha512);
  const bad = await verifySignatures(tampered);
  assert.notEqual(bad.code, 0, `a tampered package must fail verification\n${describeResult(bad)}`);
  assert.match(`${bad.stdout}${bad.stderr}`, /NU3008/, 'integrity check failure (NU3008)');
});

test('extra packages: a loose SemVer2 nupkg is served, and hidden from search unless semVerLevel=2.0.0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-extra-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const nupkg = join(dir, 'contoso.tiny.1.0.0-beta.1.nupkg');
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>Contoso.Tiny</id><version>1.0.0-Beta.1</version><authors>Contoso</authors><description>A tiny private package</description>
<dependencies><group targetFramework="net8.0"><dependency id="Newtonsoft.Json" version="[13.0.1, 14.0)" /></group></dependencies>
</metadata></package>`;
  await writeFile(nupkg, zipSync({ 'Contoso.Tiny.nuspec': strToU8(nuspec), 'lib/net8.0/_._': new Uint8Array() }));

  const feed = await startStaticFeed({ extraPackages: [{ path: nupkg }] });
  t.after(() => feed.close());
  assert.deepEqual((await getJson(`${feed.flatContainerUrl}contoso.tiny/index.json`)).body, { versions: ['1.0.0-beta.1'] });
  const got = await fetch(`${feed.flatContainerUrl}contoso.tiny/1.0.0-beta.1/contoso.tiny.1.0.0-beta.1.nupkg`);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), await readFile(nupkg));

  const reg = obj((await getJson(`${feed.registrationUrl}contoso.tiny/index.json`)).body);
  const entry = obj(obj(arr(obj(arr(reg['items'])[0])['items'])[0])['catalogEntry']);
  assert.equal(entry['version'], '1.0.0-Beta.1');
  const dep = obj(arr(obj(arr(entry['dependencyGroups'])[0])['dependencies'])[0]);
  assert.equal(dep['range'], '[13.0.1, 14.0.0)');

  const hidden = obj((await getJson(`${feed.searchUrl}?q=contoso&prerelease=true`)).body);
  assert.equal(hidden['totalHits'], 0, 'SemVer2 needs semVerLevel=2.0.0');
  const shown = obj((await getJson(`${feed.searchUrl}?q=contoso&prerelease=true&semVerLevel=2.0.0`)).body);
  assert.equal(shown['totalHits'], 1);
  assert.equal(obj((await getJson(`${feed.searchUrl}?q=contoso&semVerLevel=2.0.0`)).body)['totalHits'], 0, 'prerelease needs prerelease=true');
});

test('registration with 130 versions is paged like nuget.org: pages of 64, not inlined, each fetchable', async (t) => {
  const base = findPackage(store, 'Newtonsoft.Json');
  const versions = Array.from({ length: 130 }, (_, i) => `1.0.${i}`);
  const feed = await startStaticFeed({
    packages: versions.map((v) => ({ ...base, id: 'Many.Versions', lowerId: 'many.versions', version: v, lowerVersion: v, normalizedVersion: v })),
  });
  t.after(() => feed.close());
  const index = obj((await getJson(`${feed.registrationUrl}many.versions/index.json`)).body);
  const pages = arr(index['items']).map(obj);
  assert.deepEqual(pages.map((p) => [p['count'], p['lower'], p['upper'], p['items'] === undefined]), [
    [64, '1.0.0', '1.0.63', true],
    [64, '1.0.64', '1.0.127', true],
    [2, '1.0.128', '1.0.129', true],
  ]);
  let leaves = 0;
  for (const p of pages) {
    const page = obj((await getJson(String(p['@id']))).body);
    assert.equal(page['parent'], index['@id']);
    leaves += arr(page['items']).length;
  }
  assert.equal(leaves, 130);
  const flat = obj((await getJson(`${feed.flatContainerUrl}many.versions/index.json`)).body);
  assert.deepEqual(flat['versions'], versions, 'flat versions are sorted by SemVer, not as strings');
});
