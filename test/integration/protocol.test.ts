/**
 * Protocol fidelity through nugate against a fake upstream whose URLs are absolute and on other origins
 * (protocol.md §5 items 1–45). Every body is checked for leaks and upstream requests are counted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startFakeUpstream, type FakeUpstream, type FakePackage } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';

let up: FakeUpstream;
let ng: Running;

const many: FakePackage[] = Array.from({ length: 130 }, (_, i) => ({ id: 'Big.Package', version: `1.0.${i}` }));
const packages: FakePackage[] = [
  { id: 'Contoso.Core', version: '1.0.0', downloads: 10 },
  { id: 'Contoso.Core', version: '1.1.0-Beta.2', downloads: 5 },
  { id: 'Contoso.Core', version: '2.0.0', downloads: 2_147_483_657, dependencies: [{ id: 'Contoso.Util', range: '[1.0.0, )' }] },
  { id: 'Contoso.Util', version: '1.0.0' },
  { id: 'Contoso.Tool', version: '1.0.0', packageTypes: ['DotnetTool'] },
  { id: 'Contoso.Next', version: '1.0.0' },
  { id: 'Contoso.Next', version: '2.0.0-beta.1' },
  ...many,
];

function leaks(text: string): string[] {
  return [up.origin, up.searchOrigin].filter((o) => text.includes(o.replace('http://', ''))).map((o) => `${o} in ${text.slice(0, 200)}`);
}

async function get(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; text: string; bytes: Buffer }> {
  const res = await fetch(path.startsWith('http') ? path : `${ng.url}${path}`, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: bytes.toString('utf8'), bytes };
}

async function getJson<T = Record<string, unknown>>(path: string): Promise<T> {
  const r = await get(path);
  assert.equal(r.status, 200, `${path} → ${r.status} ${r.text.slice(0, 200)}`);
  assert.deepEqual(leaks(r.text), [], `leak in ${path}`);
  return JSON.parse(r.text) as T;
}

before(async () => {
  up = await startFakeUpstream(packages);
  ng = await startNugateInProcess({ upstreams: [{ name: 'fake', url: up.indexUrl }] });
});

after(async () => {
  await ng?.stop();
  await up?.close();
});

test('service index advertises every alias on nugate URLs and drops what nugate does not serve', async () => {
  const index = await getJson<{ version: string; resources: Array<{ '@id': string; '@type': string | string[] }> }>('/v3/index.json');
  assert.match(index.version, /^3\./);
  const types = (t: string): string[] => index.resources.filter((r) => r['@type'] === t).map((r) => r['@id']);
  for (const t of ['SearchQueryService', 'SearchQueryService/3.0.0-beta', 'SearchQueryService/3.0.0-rc', 'SearchQueryService/3.5.0']) {
    assert.deepEqual(types(t), [`${ng.url}/v3/search`], t);
  }
  assert.deepEqual(types('SearchAutocompleteService/3.0.0-beta'), [`${ng.url}/v3/autocomplete`]);
  assert.deepEqual(types('PackageBaseAddress/3.0.0'), [`${ng.url}/v3/flatcontainer/`]);
  assert.deepEqual(types('RegistrationsBaseUrl/3.6.0'), [`${ng.url}/v3/registration/`]);
  assert.deepEqual(types('RegistrationsBaseUrl/Versioned'), [`${ng.url}/v3/registration/`]);
  assert.equal(types('PackagePublish/2.0.0').length, 1);
  assert.equal(types('VulnerabilityInfo/6.7.0').length, 1);
  for (const r of index.resources) {
    const family = String(Array.isArray(r['@type']) ? r['@type'][0] : r['@type']).split('/')[0];
    assert.ok(!['LegacyGallery', 'Catalog', 'RepositorySignatures', 'VssFeedId'].includes(family ?? ''), `unexpected ${family}`);
    assert.ok(!r['@id'].includes('?'));
    if (!r['@id'].includes('gallery.example')) assert.ok(r['@id'].startsWith(`${ng.url}/v3/`), r['@id']);
  }
  assert.deepEqual(types('PackageDetailsUriTemplate/5.1.0'), ['https://gallery.example/packages/{id}/{version}']);
  const head = await fetch(`${ng.url}/v3/index.json`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('flat container lists lowercase normalized versions for any id casing', async () => {
  const lowerCase = await getJson<{ versions: string[] }>('/v3/flatcontainer/contoso.core/index.json');
  assert.deepEqual(lowerCase.versions, ['1.0.0', '1.1.0-beta.2', '2.0.0']);
  const mixed = await getJson<{ versions: string[] }>('/v3/flatcontainer/Contoso.Core/index.json');
  assert.deepEqual(mixed, lowerCase);
});

test('packages are byte-identical, HEAD works, and an uppercase prerelease path serves the same bytes', async () => {
  const expected = createHash('sha512').update(up.nupkg('Contoso.Core', '1.1.0-Beta.2')).digest('base64');
  const a = await get('/v3/flatcontainer/contoso.core/1.1.0-beta.2/contoso.core.1.1.0-beta.2.nupkg');
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('content-type'), 'application/octet-stream');
  assert.equal(createHash('sha512').update(a.bytes).digest('base64'), expected);
  const b = await get('/v3/flatcontainer/Contoso.Core/1.1.0-BETA.2/contoso.core.1.1.0-BETA.2.nupkg');
  assert.equal(b.status, 200);
  assert.equal(createHash('sha512').update(b.bytes).digest('base64'), expected);
  const head = await fetch(`${ng.url}/v3/flatcontainer/contoso.core/1.1.0-beta.2/contoso.core.1.1.0-beta.2.nupkg`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(a.bytes.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const nuspec = await get('/v3/flatcontainer/contoso.core/2.0.0/contoso.core.nuspec');
  assert.equal(nuspec.status, 200);
  assert.match(nuspec.text, /<id>Contoso.Core<\/id>/);
});

test('a package is fetched from the upstream once, then served from the cache', async () => {
  const path = '/v3/flatcontainer/contoso.util/1.0.0/contoso.util.1.0.0.nupkg';
  const before = up.count('/flat/contoso.util/1.0.0/');
  const first = await get(path);
  const second = await get(path);
  assert.equal(first.status, 200);
  assert.deepEqual(second.bytes, first.bytes);
  assert.equal(second.headers.get('x-cache'), 'HIT');
  assert.equal(up.count('/flat/contoso.util/1.0.0/') - before, 1);
  assert.match(second.headers.get('cache-control') ?? '', /immutable/);
  const etag = second.headers.get('etag');
  assert.ok(etag);
  const conditional = await get(path, { headers: { 'if-none-match': etag } });
  assert.equal(conditional.status, 304);
});

test('unknown ids answer 404 and bad input answers 400, never 500', async () => {
  assert.equal((await get('/v3/flatcontainer/does.not.exist/index.json')).status, 404);
  assert.equal((await get('/v3/registration/does.not.exist/index.json')).status, 404);
  assert.equal((await get('/v3/flatcontainer/contoso.core/9.9.9/contoso.core.9.9.9.nupkg')).status, 404);
  const badId = await get('/v3/flatcontainer/a..b/index.json');
  assert.equal(badId.status, 400);
  assert.ok(badId.text.length > 0 && badId.text.length < 200);
  assert.equal((await get('/v3/flatcontainer/contoso.core/1.0.0.0.0/contoso.core.1.0.0.0.0.nupkg')).status, 400);
  assert.equal((await get('/v3/flatcontainer/a%2Fb/index.json')).status, 400);
  assert.equal((await get('/v3/nothing-here')).status, 404);
  assert.equal((await get('/v3/raw/fake/nope/x.json')).status, 404);
});

test('registration (inlined) is rebuilt on nugate URLs and keeps unknown fields', async () => {
  const index = await getJson<{ count: number; items: Array<Record<string, unknown>> }>('/v3/registration/contoso.core/index.json');
  assert.equal(index.count, index.items.length);
  const page = index.items[0] as { '@id': string; items: Array<Record<string, unknown>>; count: number; lower: string; upper: string; parent: string };
  assert.equal(page.count, page.items.length);
  assert.ok(page['@id'].startsWith(`${ng.url}/v3/registration/contoso.core/index.json#page/`));
  assert.equal(page.lower, '1.0.0');
  assert.equal(page.upper, '2.0.0');
  const leaf = page.items[2] as { '@id': string; packageContent: string; catalogEntry: Record<string, unknown> };
  assert.deepEqual(leaf.catalogEntry.unknownFutureField, { keep: true });
  const deps = (leaf.catalogEntry.dependencyGroups as Array<{ dependencies: Array<{ registration: string }> }>)[0]?.dependencies[0];
  assert.equal(deps?.registration, `${ng.url}/v3/registration/contoso.util/index.json`);
  // packageContent downloads the same bytes as the flat container.
  const viaContent = await get(leaf.packageContent);
  assert.equal(viaContent.status, 200);
  assert.deepEqual(viaContent.bytes, up.nupkg('Contoso.Core', '2.0.0'));
  // The leaf @id is served by nugate.
  const leafDoc = await getJson<{ packageContent: string; registration: string }>(leaf['@id']);
  assert.equal(leafDoc.registration, `${ng.url}/v3/registration/contoso.core/index.json`);
  // catalogEntry @id goes through nugate's raw route.
  const catalog = await get(String(leaf.catalogEntry['@id']));
  assert.equal(catalog.status, 200);
  assert.deepEqual(leaks(catalog.text), []);
});

test('registration with 130 versions is paged by nugate and every page is fetchable', async () => {
  up.gzipRegistration = true;
  try {
    const index = await getJson<{ count: number; items: Array<{ '@id': string; count: number; items?: unknown[]; lower: string; upper: string }> }>('/v3/registration/big.package/index.json');
    assert.equal(index.items.length, 3);
    let total = 0;
    for (const page of index.items) {
      assert.equal(page.items, undefined, 'pages of ids with 128+ versions are not inlined');
      const doc = await getJson<{ items: Array<{ catalogEntry: { version: string } }>; count: number; lower: string; upper: string }>(page['@id']);
      assert.equal(doc.count, doc.items.length);
      assert.equal(doc.items[0]?.catalogEntry.version, doc.lower);
      total += doc.items.length;
    }
    assert.equal(total, 130);
  } finally {
    up.gzipRegistration = false;
  }
});

test('registration answers identity JSON whatever Accept-Encoding says', async () => {
  up.gzipRegistration = true;
  try {
    const r = await get('/v3/registration/contoso.util/index.json', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-encoding'), null);
    assert.doesNotThrow(() => JSON.parse(r.text));
  } finally {
    up.gzipRegistration = false;
  }
});

test('search passes parameters through, rewrites every URL and keeps big numbers exact', async () => {
  const before = up.requests.length;
  const r = await getJson<{ totalHits: number; data: Array<{ id: string; registration: string; iconUrl: string; totalDownloads: number; versions: Array<{ '@id': string }> }> }>(
    '/v3/search?q=contoso&skip=0&take=10&prerelease=true&semVerLevel=2.0.0',
  );
  const sent = up.requests.slice(before).find((x) => x.path.startsWith('search:/query'));
  assert.ok(sent, 'search reached the upstream');
  const params = new URL(sent.path.slice('search:'.length), 'http://x').searchParams;
  assert.equal(params.get('q'), 'contoso');
  assert.equal(params.get('prerelease'), 'true');
  assert.equal(params.get('semVerLevel'), '2.0.0');
  const core = r.data.find((d) => d.id === 'Contoso.Core');
  assert.ok(core);
  assert.equal(core.totalDownloads, 2_147_483_657 + 15);
  assert.equal(core.registration, `${ng.url}/v3/registration/contoso.core/index.json`);
  assert.ok(core.versions.every((v) => v['@id'].startsWith(`${ng.url}/v3/registration/`)));
  assert.ok(core.iconUrl.startsWith(`${ng.url}/v3/flatcontainer/`));
  const typed = await getJson<{ data: Array<{ id: string }> }>('/v3/search?q=contoso&packageTypeFilter=DotnetTool');
  assert.deepEqual(typed.data.map((d) => d.id), ['Contoso.Tool']);
  const q2 = '/v3/search?q=packageid%3AContoso.Core+x';
  await get(q2);
  const last = up.requests.filter((x) => x.path.startsWith('search:/query')).at(-1);
  assert.equal(new URL((last?.path ?? '').slice('search:'.length), 'http://x').searchParams.get('q'), 'packageid:Contoso.Core x');
});

test('autocomplete serves ids and versions', async () => {
  const ids = await getJson<{ data: string[] }>('/v3/autocomplete?q=contoso');
  assert.ok(ids.data.includes('Contoso.Core'));
  const versions = await getJson<{ data: string[] }>('/v3/autocomplete?id=contoso.core&prerelease=true&semVerLevel=2.0.0');
  assert.deepEqual(versions.data, ['1.0.0', '1.1.0-Beta.2', '2.0.0']);
});

test('vulnerability index and pages are proxied and rewritten', async () => {
  const index = await getJson<Array<{ '@name': string; '@id': string }>>('/v3/vulnerabilities/index.json');
  assert.equal(index.length, 1);
  assert.ok(index[0]?.['@id'].startsWith(`${ng.url}/v3/`));
  const page = await get(index[0]?.['@id'] ?? '');
  assert.equal(page.status, 200);
  assert.equal(page.text, '{}');
});

test('a per-upstream view serves the same upstream under its own base', async () => {
  const index = await getJson<{ resources: Array<{ '@id': string; '@type': string }> }>('/upstreams/fake/v3/index.json');
  const flat = index.resources.find((r) => r['@type'] === 'PackageBaseAddress/3.0.0');
  assert.equal(flat?.['@id'], `${ng.url}/upstreams/fake/v3/flatcontainer/`);
  const versions = await getJson<{ versions: string[] }>('/upstreams/fake/v3/flatcontainer/contoso.util/index.json');
  assert.deepEqual(versions.versions, ['1.0.0']);
});

test('crawling every URL nugate hands out never reaches an upstream origin', async () => {
  const seen = new Set<string>();
  const queue = [`${ng.url}/v3/index.json`, `${ng.url}/v3/registration/contoso.core/index.json`, `${ng.url}/v3/search?q=contoso&prerelease=true`];
  while (queue.length > 0 && seen.size < 200) {
    const url = queue.shift() ?? '';
    if (seen.has(url)) continue;
    seen.add(url);
    const r = await get(url);
    assert.deepEqual(leaks(r.text), [], url);
    if (!(r.headers.get('content-type') ?? '').includes('json')) continue;
    for (const m of r.text.matchAll(/"(https?:\/\/[^"]+)"/g)) {
      const found = (m[1] ?? '').split('#')[0] ?? '';
      if (found.startsWith(ng.url) && !found.includes('{') && !found.endsWith('/') && !found.endsWith('/search') && !found.endsWith('/autocomplete') && !found.endsWith('/package') && !found.endsWith('/symbolpackage')) queue.push(found);
    }
  }
  assert.ok(seen.size > 10, `crawled ${seen.size} URLs`);
});

test('publicUrl and X-Forwarded-* decide the URLs nugate writes', async () => {
  const other = await startNugateInProcess({ upstreams: [{ name: 'fake', url: up.indexUrl }], publicUrl: 'https://nuget.example.com/feeds/main' });
  try {
    const r = await fetch(`${other.url}/v3/index.json`);
    const text = await r.text();
    assert.ok(text.includes('"https://nuget.example.com/feeds/main/v3/flatcontainer/"'));
    assert.ok(!text.includes('http://127.0.0.1'));
  } finally {
    await other.stop();
  }
  const ignored = await fetch(`${ng.url}/v3/index.json`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' } });
  assert.ok(!(await ignored.text()).includes('evil.example'), 'X-Forwarded-* is ignored unless trustProxy is on');
  const trusting = await startNugateInProcess({ upstreams: [{ name: 'fake', url: up.indexUrl }], trustProxy: true });
  try {
    const r = await fetch(`${trusting.url}/v3/index.json`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'proxy.test', 'x-forwarded-prefix': '/nuget' } });
    const text = await r.text();
    assert.ok(text.includes('"https://proxy.test/nuget/v3/search"'), text.slice(0, 300));
    const ids = (JSON.parse(text) as { resources: Array<{ '@id': string }> }).resources.map((x) => x['@id']);
    assert.deepEqual(ids.filter((id) => id.startsWith('http://')), [], 'an https feed advertises no http:// resource');
  } finally {
    await trusting.stop();
  }
});

test('a page URL outside the upstream resource bases is never fetched (no SSRF through upstream data)', async () => {
  const { createServer } = await import('node:http');
  let hits = 0;
  const victim = createServer((_req, res) => {
    hits++;
    res.end('{}');
  });
  await new Promise<void>((r) => victim.listen(0, '127.0.0.1', () => r()));
  const victimPort = (victim.address() as { port: number }).port;
  // Hand-crafted registration whose non-inlined page points at another host.
  const { createServer: mk } = await import('node:http');
  const feed = mk((req, res) => {
    const base = `http://127.0.0.1:${(feed.address() as { port: number }).port}`;
    if (req.url === '/v3/index.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: '3.0.0', resources: [{ '@id': `${base}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }, { '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] }));
    } else if (req.url === '/reg/x.y/index.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ count: 1, items: [{ '@id': `http://127.0.0.1:${victimPort}/internal/secret.json`, count: 1, lower: '1.0.0', upper: '1.0.0' }] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => feed.listen(0, '127.0.0.1', () => r()));
  const local = await startNugateInProcess({ upstreams: [{ name: 'evil', url: `http://127.0.0.1:${(feed.address() as { port: number }).port}/v3/index.json` }] });
  try {
    const r = await fetch(`${local.url}/v3/registration/x.y/index.json`);
    await r.arrayBuffer();
    assert.notEqual(r.status, 200);
    assert.ok(r.status < 500 || r.status === 502 || r.status === 503, String(r.status));
    assert.equal(hits, 0, 'nugate must not fetch a URL outside the upstream resource bases');
  } finally {
    await local.stop();
    feed.closeAllConnections();
    victim.closeAllConnections();
    await new Promise<void>((r) => feed.close(() => r()));
    await new Promise<void>((r) => victim.close(() => r()));
  }
});

test('hostile paths, queries and headers get 4xx with a short text, never a 5xx', async () => {
  const paths = [
    '/v3/flatcontainer/contoso.core/1.0.0/%25E0',
    '/v3/flatcontainer/%25E0/index.json',
    '/v3/flatcontainer/contoso.core/%25/contoso.core.%25.nupkg',
    '/v3/flatcontainer/contoso.core/1.0.0/..%2f..%2fetc%2fpasswd',
    '/v3/flatcontainer/' + 'a'.repeat(300) + '/index.json',
    '/v3/registration/contoso.core/%25.json',
    '/v3/registration/contoso.core/page/%25/x.json',
    '/v3/registration/contoso.core/page/1.0.0/2.0.0',
    '/v3/registration-semver1/%00/index.json',
    '/v3/autocomplete?id=%25',
    '/v3/autocomplete?id=' + 'x'.repeat(5000),
    '/v3/search?skip=-5&take=abc&prerelease=maybe&semVerLevel=banana',
    '/v3/search?q=%E0%A4%A',
    '/v3/raw/fake/%25/x',
    '/v3/raw/nope/abc/x.json',
    '/v3/explain/contoso.core/%25',
    '/upstreams/nope/v3/index.json',
    '/v3/flatcontainer/contoso.core/1.0.0/contoso.core.1.0.0.nupkg/extra',
  ];
  for (const p of paths) {
    const r = await get(p);
    assert.ok(r.status < 500, `${p} → ${r.status} ${r.text.slice(0, 100)}`);
    if (r.status >= 400) assert.ok(r.text.length < 300, `${p}: short error body`);
  }
  // fetch() drops a custom Host header, so send this one with node:http.
  const { request } = await import('node:http');
  const target = new URL(ng.url);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: '/v3/index.json', headers: { host: 'evil.example/x?y' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 400);
});

test('/metrics exposes request counters by resource and cache state, and breaker state per upstream', async () => {
  await get('/v3/flatcontainer/contoso.core/index.json');
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(r.text, /nugate_http_requests_total\{resource="flatcontainer",status="200",cache="(HIT|MISS)"\} \d+/);
  assert.match(r.text, /nugate_upstream_breaker_open\{upstream="fake"\} 0/);
  assert.deepEqual(leaks(r.text), []);
});

test('a Range request gets the right bytes (206) or the whole package (200), never a 5xx', async () => {
  const path = '/v3/flatcontainer/contoso.util/1.0.0/contoso.util.1.0.0.nupkg';
  await get(path);
  const r = await get(path, { headers: { range: 'bytes=0-99' } });
  const whole = up.nupkg('Contoso.Util', '1.0.0');
  if (r.status === 206) assert.deepEqual(r.bytes, whole.subarray(0, 100));
  else {
    assert.equal(r.status, 200);
    assert.deepEqual(r.bytes, whole);
  }
});

test('a SemVer2 version is in the 3.6.0 hive and hidden from the SemVer1 hive', async () => {
  const v2 = await getJson<{ items: Array<{ items: Array<{ catalogEntry: { version: string } }> }> }>('/v3/registration/contoso.next/index.json');
  assert.deepEqual(v2.items.flatMap((p) => p.items.map((l) => l.catalogEntry.version)), ['1.0.0', '2.0.0-beta.1']);
  const v1 = await getJson<{ items: Array<{ items: Array<{ catalogEntry: { version: string } }> }> }>('/v3/registration-semver1/contoso.next/index.json');
  assert.deepEqual(v1.items.flatMap((p) => p.items.map((l) => l.catalogEntry.version)), ['1.0.0']);
});

test('every route shape keeps Hono on its RegExpRouter (a static segment after a parameter would not)', async () => {
  await get('/v3/index.json');
  const router = (ng.nugate.app as unknown as { router: { activeRouter?: { name: string } } }).router;
  assert.equal(router.activeRouter?.name, 'RegExpRouter');
});
