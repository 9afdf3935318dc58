/**
 * A folder upstream (`url: file:///…`) merged with an HTTP upstream through nugate: packageSourceMapping sends
 * `Local.*` to the folder and everything else to the HTTP feed; flat container, registration, search and
 * autocomplete work across both, and the folder's synthetic URLs are rewritten like any upstream URL.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';

const SYNTHETIC_HOST = 'folder.nugate.invalid';
const ICON = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);

function widget(version: string, withIcon: boolean): Buffer {
  const nuspec = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">',
    '  <metadata>',
    '    <id>Local.Widget</id>',
    `    <version>${version}</version>`,
    '    <authors>folder tests</authors>',
    `    <description>Widgets from a folder, ${version}</description>`,
    withIcon ? '    <icon>images/icon.png</icon>' : '',
    '    <dependencies><group targetFramework="net10.0"><dependency id="Remote.Lib" version="1.0.0" /></group></dependencies>',
    '  </metadata>',
    '</package>',
  ].join('\n');
  const files: Record<string, Uint8Array> = {
    'Local.Widget.nuspec': strToU8(nuspec),
    '[Content_Types].xml': strToU8('<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="nuspec" ContentType="application/octet" /></Types>'),
    'lib/net10.0/_._': new Uint8Array(0),
  };
  if (withIcon) files['images/icon.png'] = ICON;
  return Buffer.from(zipSync(files));
}

const WIDGET_1 = widget('1.0.0', false);
const WIDGET_11 = widget('1.1.0', true);

let dir: string;
let remote: FakeUpstream;
let nugate: Running;
/** Every text body nugate sent in this file, to prove the folder's synthetic URLs never leak. */
const bodies: Array<{ path: string; text: string }> = [];

async function get(path: string, init?: RequestInit): Promise<Response> {
  const r = await fetch(`${nugate.url}${path}`, init);
  const type = r.headers.get('content-type') ?? '';
  if (!/json|text|xml/.test(type)) return r;
  const text = await r.text();
  bodies.push({ path, text });
  return new Response(text, { status: r.status, headers: r.headers });
}

async function json<T>(path: string): Promise<T> {
  const r = await get(path);
  assert.equal(r.status, 200, `${path} answered ${r.status}`);
  return (await r.json()) as T;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nugate-folder-int-'));
  await mkdir(join(dir, 'team'), { recursive: true });
  await writeFile(join(dir, 'Local.Widget.1.0.0.nupkg'), WIDGET_1);
  await writeFile(join(dir, 'team', 'Local.Widget.1.1.0.nupkg'), WIDGET_11);
  remote = await startFakeUpstream([
    { id: 'Remote.Lib', version: '1.0.0', description: 'a remote library' },
    // A squatter on the folder's prefix: the mapping must keep it out.
    { id: 'Local.Widget', version: '9.9.9', description: 'ATTACKER widget' },
  ]);
  nugate = await startNugateInProcess({
    upstreams: [
      { name: 'local', url: pathToFileURL(dir).href },
      { name: 'remote', url: remote.indexUrl },
    ],
    packageSourceMapping: { local: ['Local.*'], remote: ['*'] },
  });
});

after(async () => {
  await nugate?.stop();
  await remote?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('flat container: folder packages for Local.*, the HTTP upstream for the rest, bytes unchanged', async () => {
  assert.deepEqual(await json('/v3/flatcontainer/local.widget/index.json'), { versions: ['1.0.0', '1.1.0'] });
  const nupkg = await get('/v3/flatcontainer/local.widget/1.0.0/local.widget.1.0.0.nupkg');
  assert.equal(nupkg.status, 200);
  assert.ok(Buffer.from(await nupkg.arrayBuffer()).equals(WIDGET_1));
  const nested = await get('/v3/flatcontainer/local.widget/1.1.0/local.widget.1.1.0.nupkg');
  assert.ok(Buffer.from(await nested.arrayBuffer()).equals(WIDGET_11));
  const icon = await get('/v3/flatcontainer/local.widget/1.1.0/icon');
  assert.equal(icon.status, 200);
  assert.ok(Buffer.from(await icon.arrayBuffer()).equals(ICON));
  assert.equal((await get('/v3/flatcontainer/local.widget/1.0.0/icon')).status, 404);
  assert.equal((await get('/v3/flatcontainer/local.widget/9.9.9/local.widget.9.9.9.nupkg')).status, 404);

  assert.deepEqual(await json('/v3/flatcontainer/remote.lib/index.json'), { versions: ['1.0.0'] });
  assert.equal(remote.count('/flat/local.widget'), 0, 'the HTTP upstream is never asked for a Local.* id');

  // The per-upstream view serves the folder on its own.
  assert.deepEqual(await json('/upstreams/local/v3/flatcontainer/local.widget/index.json'), { versions: ['1.0.0', '1.1.0'] });
  const index = await json<{ resources: Array<{ '@id': string }> }>('/upstreams/local/v3/index.json');
  for (const r of index.resources) assert.ok(r['@id'].startsWith(`${nugate.url}/`), r['@id']);
});

test('registration: rebuilt from the folder, every URL pointing at nugate', async () => {
  interface Index {
    items: Array<{ items: Array<{ packageContent: string; catalogEntry: { id: string; version: string; description: string; iconUrl?: string; dependencyGroups: Array<{ dependencies: Array<{ id: string; registration: string }> }> } }> }>;
  }
  for (const hive of ['registration', 'registration-semver1']) {
    const doc = await json<Index>(`/v3/${hive}/local.widget/index.json`);
    const leaves = doc.items.flatMap((p) => p.items);
    assert.deepEqual(leaves.map((l) => l.catalogEntry.version), ['1.0.0', '1.1.0']);
    assert.equal(leaves[0]?.catalogEntry.description, 'Widgets from a folder, 1.0.0');
    assert.equal(leaves[0]?.packageContent, `${nugate.url}/v3/flatcontainer/local.widget/1.0.0/local.widget.1.0.0.nupkg`);
    assert.equal(leaves[1]?.catalogEntry.iconUrl, `${nugate.url}/v3/flatcontainer/local.widget/1.1.0/icon`);
    const dep = leaves[0]?.catalogEntry.dependencyGroups[0]?.dependencies[0];
    assert.equal(dep?.id, 'Remote.Lib');
    // nugate maps the folder's one (SemVer2) hive onto its registration/ resource, whichever view is asked for.
    assert.match(dep?.registration ?? '', new RegExp(`^${nugate.url}/v3/registration(-semver1)?/remote\\.lib/index\\.json$`));
  }
  const remoteDoc = await json<Index>('/v3/registration/remote.lib/index.json');
  assert.deepEqual(remoteDoc.items.flatMap((p) => p.items).map((l) => l.catalogEntry.version), ['1.0.0']);
});

test('search and autocomplete merge the folder with the HTTP upstream', async () => {
  interface Search {
    totalHits: number;
    data: Array<{ id: string; version: string; description: string; registration: string; versions: Array<{ version: string; '@id': string }> }>;
  }
  const found = await json<Search>('/v3/search?q=widget&take=10');
  const w = found.data.find((d) => d.id === 'Local.Widget');
  assert.ok(w, JSON.stringify(found));
  assert.equal(w.version, '1.1.0', 'the squatter on the HTTP upstream is filtered out by the mapping');
  assert.ok(!JSON.stringify(found).includes('ATTACKER'));
  assert.equal(w.registration, `${nugate.url}/v3/registration/local.widget/index.json`);
  for (const v of w.versions) assert.ok(v['@id'].startsWith(`${nugate.url}/v3/registration/local.widget/`), v['@id']);

  const all = await json<Search>('/v3/search?q=&take=50');
  const ids = all.data.map((d) => d.id);
  assert.ok(ids.includes('Local.Widget') && ids.includes('Remote.Lib'), ids.join(', '));

  const ac = await json<{ data: string[] }>('/v3/autocomplete?q=local');
  assert.deepEqual(ac.data, ['Local.Widget']);
  const versions = await json<{ data: string[] }>('/v3/autocomplete?id=local.widget');
  assert.deepEqual(versions.data, ['1.0.0', '1.1.0']);
});

test('no response body mentions the folder upstream synthetic host or its path', async () => {
  await json('/v3/index.json');
  await get('/v3/flatcontainer/local.widget/1.0.0/local.widget.nuspec');
  assert.ok(bodies.length >= 10, `only ${bodies.length} bodies were checked`);
  for (const { path, text } of bodies) {
    assert.ok(!text.includes(SYNTHETIC_HOST), `${path} leaked ${SYNTHETIC_HOST}: ${text.slice(0, 300)}`);
    assert.ok(!text.includes(dir), `${path} leaked the folder path`);
  }
});

test('a folder upstream whose folder does not exist fails at start with a message that names it', async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'nugate-folder-int-cache-'));
  try {
    const missing = pathToFileURL(join(dir, 'missing')).href;
    await assert.rejects(startNugateInProcess({ upstreams: [{ name: 'gone', url: missing }] }, { cacheDir }), (err: Error) => {
      assert.match(err.message, /upstream "gone"/);
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test('offline mode cuts the network but a folder upstream keeps serving', async () => {
  const offline = await startNugateInProcess({
    upstreams: [
      { name: 'local', url: pathToFileURL(dir).href },
      { name: 'remote', url: remote.indexUrl },
    ],
    packageSourceMapping: { local: ['Local.*'], remote: ['*'] },
    offline: true,
  });
  try {
    const before = remote.requests.length;
    const versions = await fetch(`${offline.url}/v3/flatcontainer/local.widget/index.json`);
    assert.equal(versions.status, 200);
    assert.deepEqual(await versions.json(), { versions: ['1.0.0', '1.1.0'] });
    const pkg = await fetch(`${offline.url}/v3/flatcontainer/local.widget/1.0.0/local.widget.1.0.0.nupkg`);
    assert.ok(Buffer.from(await pkg.arrayBuffer()).equals(WIDGET_1));
    const remoteOnly = await fetch(`${offline.url}/v3/flatcontainer/remote.lib/index.json`);
    assert.equal(remoteOnly.status, 404);
    await remoteOnly.arrayBuffer();
    assert.equal(remote.requests.length - before, 0, 'offline: the HTTP upstream is never contacted');
  } finally {
    await offline.stop();
  }
});
