/**
 * A folder upstream as a hosted feed, through nugate over HTTP (README "Folder upstreams", design.md §6): a push
 * with a chunked multipart body shaped like the NuGet client's lands in the folder (201) and is served at once,
 * a duplicate is 409, delete unlists (200, registration `listed: false`), POST relists (200). nugate checks the
 * key itself (keyMode "mapped"); with keyMode "passthrough" no key could be checked, so a folder refuses every
 * push with 403. Offline, a folder keeps taking pushes while network upstreams are refused.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';

const KEY = `key-${randomUUID()}`;
const SCOPED_KEY = `scoped-${randomUUID()}`;
const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('base64');
const KEYS = [
  { name: 'ci', sha256: sha256hex(KEY) },
  { name: 'other-team', sha256: sha256hex(SCOPED_KEY), patterns: ['Other.*'] },
];

function nupkg(id: string, version: string): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>${id}</id><version>${version}</version><authors>Contoso</authors><description>Hosted ${id}</description><tags>hostedint</tags></metadata>
</package>`;
  return Buffer.from(zipSync({ [`${id}.nuspec`]: strToU8(nuspec), 'lib/net8.0/_._': new Uint8Array(0) }));
}

interface Answer {
  status: number;
  reason: string;
  body: string;
}

/** Sends a body in several chunks with no Content-Length, so Node uses Transfer-Encoding: chunked (as NuGet does). */
function send(url: string, method: string, headers: Record<string, string>, chunks: Buffer[] = []): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** The body .NET's MultipartFormDataContent produces for PackageUpdateResource (protocol.md §2.4). */
function push(url: string, pkg: Buffer, key: string | undefined): Promise<Answer> {
  const boundary = randomUUID();
  const chunks: Buffer[] = [
    Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n`),
  ];
  for (let i = 0; i < pkg.length; i += 1024) chunks.push(pkg.subarray(i, i + 1024));
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  const headers: Record<string, string> = { 'content-type': `multipart/form-data; boundary="${boundary}"`, 'user-agent': 'NuGet Command Line/6.8.0 (Linux)', 'x-nuget-protocol-version': '4.1.0' };
  if (key !== undefined) headers['x-nuget-apikey'] = key;
  return send(url, 'PUT', headers, chunks);
}

interface RegIndex {
  items: Array<{ items: Array<{ catalogEntry: { version: string; listed?: boolean } }> }>;
}

async function listing(nugate: Running, lowerId: string): Promise<Record<string, boolean>> {
  const res = await fetch(`${nugate.url}/v3/registration/${lowerId}/index.json`);
  assert.equal(res.status, 200);
  const out: Record<string, boolean> = {};
  for (const page of ((await res.json()) as RegIndex).items) for (const leaf of page.items) out[leaf.catalogEntry.version] = leaf.catalogEntry.listed ?? true;
  return out;
}

async function searchIds(nugate: Running, q: string): Promise<string[]> {
  const res = await fetch(`${nugate.url}/v3/search?q=${q}&prerelease=true`);
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((d) => d.id);
}

async function serviceIndexTypes(nugate: Running): Promise<Map<string, string>> {
  const doc = (await (await fetch(`${nugate.url}/v3/index.json`)).json()) as { resources: Array<{ '@id': string; '@type': string }> };
  return new Map(doc.resources.map((r) => [r['@type'], r['@id']]));
}

describe('folder upstream as publish target, mapped keys', () => {
  let dir: string;
  let nugate: Running;
  const V1 = nupkg('Contoso.Hosted', '1.0.0');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nugate-hosted-int-'));
    nugate = await startNugateInProcess({
      upstreams: [{ name: 'hosted', url: pathToFileURL(dir).href }],
      publish: { upstream: 'hosted', keyMode: 'mapped', keys: KEYS },
    });
  });
  after(async () => {
    await nugate?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('advertises PackagePublish at nugate, and no SymbolPackagePublish', async () => {
    const types = await serviceIndexTypes(nugate);
    assert.equal(types.get('PackagePublish/2.0.0'), `${nugate.url}/v3/package`);
    assert.ok(![...types.keys()].some((t) => t.startsWith('SymbolPackagePublish')), [...types.keys()].join(', '));
    // Publish is mounted for the merged feed only: the folder's own view must not advertise a URL that 404s.
    const view = (await (await fetch(`${nugate.url}/upstreams/hosted/v3/index.json`)).json()) as { resources: Array<{ '@type': string }> };
    assert.ok(!view.resources.some((r) => r['@type'].startsWith('PackagePublish')));
  });

  it('push: 201, stored in the folder, and the (cached) flat container lists it at once', async () => {
    // Prime nugate's caches with "no such package": the push must evict them.
    assert.equal((await fetch(`${nugate.url}/v3/flatcontainer/contoso.hosted/index.json`)).status, 404);
    assert.equal((await fetch(`${nugate.url}/v3/flatcontainer/contoso.hosted/index.json`)).status, 404);

    const res = await push(`${nugate.url}/v3/package/`, V1, KEY);
    assert.equal(res.status, 201, `${res.status} ${res.reason}`);
    assert.equal(res.reason, 'Created');
    const stored = await readFile(join(dir, 'contoso.hosted', '1.0.0', 'contoso.hosted.1.0.0.nupkg'));
    assert.ok(stored.equals(V1), 'the package changed on its way into the folder');
    assert.equal(await readFile(join(dir, 'contoso.hosted', '1.0.0', 'contoso.hosted.1.0.0.nupkg.sha512'), 'utf8'), sha512(V1));

    const flat = await fetch(`${nugate.url}/v3/flatcontainer/contoso.hosted/index.json`);
    assert.deepEqual(await flat.json(), { versions: ['1.0.0'] });
    const download = await fetch(`${nugate.url}/v3/flatcontainer/contoso.hosted/1.0.0/contoso.hosted.1.0.0.nupkg`);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(V1));
    assert.deepEqual(await searchIds(nugate, 'hostedint'), ['Contoso.Hosted']);
    assert.deepEqual(await readdir(join(nugate.cacheDir, 'tmp', 'publish')), [], 'the spooled upload is removed');
  });

  it('a second push of the same id+version: 409 with nuget.org\'s reason, at the /api/v2/package alias too', async () => {
    const res = await push(`${nugate.url}/v3/package`, V1, KEY);
    assert.equal(res.status, 409);
    assert.match(res.reason, /already exists/);
    const alias = await push(`${nugate.url}/api/v2/package/`, nupkg('CONTOSO.HOSTED', '1.0'), KEY);
    assert.equal(alias.status, 409);
  });

  it('a wrong, missing or out-of-scope key: 403, nothing stored, no challenge', async () => {
    const wrong = await push(`${nugate.url}/v3/package/`, nupkg('Contoso.Hosted', '2.0.0'), 'not-the-key');
    assert.equal(wrong.status, 403);
    // No key at all is 401, as nuget.org answers it (publish/errors.ts).
    assert.equal((await push(`${nugate.url}/v3/package/`, nupkg('Contoso.Hosted', '2.0.0'), undefined)).status, 401);
    const scoped = await push(`${nugate.url}/v3/package/`, nupkg('Contoso.Hosted', '2.0.0'), SCOPED_KEY);
    assert.equal(scoped.status, 403);
    assert.match(scoped.reason, /may not publish "Contoso.Hosted"/);
    assert.deepEqual(await readdir(join(dir, 'contoso.hosted')), ['1.0.0']);
    const del = await fetch(`${nugate.url}/v3/package/Contoso.Hosted/1.0.0`, { method: 'DELETE', headers: { 'X-NuGet-ApiKey': 'not-the-key' } });
    assert.equal(del.status, 403);
    assert.equal(del.headers.get('www-authenticate'), null);
    // The scoped key works within its scope.
    assert.equal((await push(`${nugate.url}/v3/package/`, nupkg('Other.Thing', '1.0.0'), SCOPED_KEY)).status, 201);
  });

  it('DELETE unlists (200): registration says listed: false, search hides it, the flat container keeps it', async () => {
    const res = await send(`${nugate.url}/v3/package/CONTOSO.Hosted/1.0.0.0`, 'DELETE', { 'x-nuget-apikey': KEY });
    assert.equal(res.status, 200, `${res.status} ${res.reason}`);
    assert.equal(res.body, '');
    assert.deepEqual(await listing(nugate, 'contoso.hosted'), { '1.0.0': false });
    assert.deepEqual(await searchIds(nugate, 'hostedint'), ['Other.Thing']);
    assert.deepEqual(await (await fetch(`${nugate.url}/v3/flatcontainer/contoso.hosted/index.json`)).json(), { versions: ['1.0.0'] });
    assert.ok((await readFile(join(dir, 'contoso.hosted', '1.0.0', 'contoso.hosted.1.0.0.nupkg'))).equals(V1), 'an unlist keeps the package');
  });

  it('POST relists (200)', async () => {
    const res = await send(`${nugate.url}/v3/package/contoso.hosted/1.0.0/`, 'POST', { 'x-nuget-apikey': KEY });
    assert.equal(res.status, 200, `${res.status} ${res.reason}`);
    assert.deepEqual(await listing(nugate, 'contoso.hosted'), { '1.0.0': true });
    assert.deepEqual((await searchIds(nugate, 'hostedint')).sort(), ['Contoso.Hosted', 'Other.Thing']);
  });

  it('DELETE or POST of an unknown id+version: 404', async () => {
    assert.equal((await send(`${nugate.url}/v3/package/Contoso.Hosted/9.9.9`, 'DELETE', { 'x-nuget-apikey': KEY })).status, 404);
    assert.equal((await send(`${nugate.url}/v3/package/No.Such.Pkg/1.0.0`, 'POST', { 'x-nuget-apikey': KEY })).status, 404);
  });

  it('a symbol push is not taken (a folder keeps no symbols)', async () => {
    const res = await push(`${nugate.url}/v3/symbolpackage/`, V1, KEY);
    assert.equal(res.status, 501, `${res.status} ${res.reason}`);
    assert.match(res.reason, /does not accept symbol packages/);
  });
});

describe('folder upstream as publish target, passthrough keys', () => {
  let dir: string;
  let nugate: Running;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nugate-hosted-pass-'));
    nugate = await startNugateInProcess({ upstreams: [{ name: 'hosted', url: pathToFileURL(dir).href }], publish: { upstream: 'hosted' } });
  });
  after(async () => {
    await nugate?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses push, delete and relist with 403 and says why: nothing could check the key', async () => {
    const res = await push(`${nugate.url}/v3/package/`, nupkg('Contoso.Anon', '1.0.0'), 'any-key-at-all');
    assert.equal(res.status, 403);
    assert.match(res.reason, /folder upstream "hosted" needs publish\.keyMode "mapped"/);
    assert.equal((await push(`${nugate.url}/v3/package/`, nupkg('Contoso.Anon', '1.0.0'), undefined)).status, 403);
    const del = await send(`${nugate.url}/v3/package/Contoso.Anon/1.0.0`, 'DELETE', { 'x-nuget-apikey': 'k' });
    assert.equal(del.status, 403);
    assert.match(del.reason, /keyMode "mapped"/);
    assert.equal((await send(`${nugate.url}/v3/package/Contoso.Anon/1.0.0`, 'POST', { 'x-nuget-apikey': 'k' })).status, 403);
    assert.deepEqual(await readdir(dir), [], 'nothing written');
  });

  it('also when the folder is chosen by packageSourceMapping rather than publish.upstream', async () => {
    const mappedDir = await mkdtemp(join(tmpdir(), 'nugate-hosted-map-'));
    const byMapping = await startNugateInProcess({ upstreams: [{ name: 'hosted', url: pathToFileURL(mappedDir).href }], packageSourceMapping: { hosted: ['*'] } });
    try {
      const res = await push(`${byMapping.url}/v3/package/`, nupkg('Contoso.Anon', '1.0.0'), 'any-key-at-all');
      assert.equal(res.status, 403);
      assert.match(res.reason, /keyMode "mapped"/);
      assert.deepEqual(await readdir(mappedDir), []);
    } finally {
      await byMapping.stop();
      await rm(mappedDir, { recursive: true, force: true });
    }
  });
});

describe('offline: a folder still takes pushes, a network upstream does not', () => {
  let dir: string;
  let remote: FakeUpstream;
  let nugate: Running;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nugate-hosted-offline-'));
    remote = await startFakeUpstream([{ id: 'Remote.Lib', version: '1.0.0' }]);
    nugate = await startNugateInProcess({
      offline: true,
      upstreams: [
        { name: 'hosted', url: pathToFileURL(dir).href },
        { name: 'remote', url: remote.indexUrl, apiKeyEnv: 'REMOTE_PUSH_KEY' },
      ],
      packageSourceMapping: { hosted: ['Local.*'], remote: ['*'] },
      publish: { keyMode: 'mapped', keys: KEYS },
    }, { env: { REMOTE_PUSH_KEY: 'upstream-key' } });
  });
  after(async () => {
    await nugate?.stop();
    await remote?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('advertises publish, for the folder', async () => {
    assert.equal((await serviceIndexTypes(nugate)).get('PackagePublish/2.0.0'), `${nugate.url}/v3/package`);
  });

  it('stores a push mapped to the folder and refuses one mapped to the network upstream, which sees nothing', async () => {
    const local = await push(`${nugate.url}/v3/package/`, nupkg('Local.Offline', '1.0.0'), KEY);
    assert.equal(local.status, 201, `${local.status} ${local.reason}`);
    assert.deepEqual(await (await fetch(`${nugate.url}/v3/flatcontainer/local.offline/index.json`)).json(), { versions: ['1.0.0'] });
    const away = await push(`${nugate.url}/v3/package/`, nupkg('Remote.New', '1.0.0'), KEY);
    assert.equal(away.status, 503, 'offline, a push to a network upstream is refused as unavailable');
    assert.match(away.reason, /offline/);
    assert.equal((await send(`${nugate.url}/v3/package/Remote.Lib/1.0.0`, 'DELETE', { 'x-nuget-apikey': KEY })).status, 503);
    assert.deepEqual(remote.requests, [], 'an offline nugate contacted the network upstream');
  });
});
