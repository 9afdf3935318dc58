/**
 * FolderSource (src/sources/folder-source.ts): a folder of .nupkg files answers the Source contract directly, with
 * canonical URLs only, package files read straight from the folder (byte for byte, through an open handle), and
 * changes (push, unlist, files copied in or removed) visible without waiting for the periodic rescan.
 *
 * Folder under test (a fresh temp dir):
 *   xunit/2.9.3/…, xunit.abstractions/2.0.3/…   real signed packages copied from the global-packages folder (.sha512 sidecars)
 *   drop/Local.Thing.1.0.0.nupkg                generated, with tags, summary, an author iconUrl and a dependency group
 *   drop/Local.Thing.2.0.0-beta.1+build.7.nupkg generated SemVer2 prerelease
 *   drop/tools/My.Tool.1.0.0.nupkg              generated, DotnetTool, embedded icon and readme
 *   drop/evil.nupkg -> /opt/.../newtonsoft.json.13.0.3.nupkg   a link out of the folder (never indexed)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { createFolderSource, type FolderSource } from '../../../src/sources/folder-source.ts';
import { UNLISTED_SUFFIX } from '../../../src/sources/folder/scan.ts';
import { FEED_SENTINEL } from '../../../src/feed-urls.ts';
import { parseSearchParams } from '../../../src/merge/search.ts';
import type { BlobResult } from '../../../src/cache/types.ts';
import type { Answer, Json } from '../../../src/sources/source.ts';
import { readManifestFromFile } from '../../../src/nuget/nupkg.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { DEFAULT_PACKAGES_ROOT as STORE } from '../../helpers/packages.ts';

const NAME = 'local';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

interface Spec {
  id: string;
  version: string;
  /** Extra `<metadata>` children, as XML. */
  metadata?: string;
  files?: Record<string, Uint8Array>;
}

/** A small unsigned package: a root nuspec and whatever payload the spec gives. */
function nupkg(spec: Spec): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${spec.id}</id>
    <version>${spec.version}</version>
    <authors>Folder Tests, Someone Else</authors>
    <description>${spec.id} ${spec.version} for the folder source tests</description>
    ${spec.metadata ?? ''}
  </metadata>
</package>`;
  const mtime = new Date('2024-01-15T10:20:30Z');
  return Buffer.from(zipSync({ [`${spec.id}.nuspec`]: [strToU8(nuspec), { mtime }], ...(spec.files ?? { 'lib/net8.0/_._': new Uint8Array(0) }) }));
}

const THING_1 = nupkg({
  id: 'Local.Thing',
  version: '1.0.0',
  metadata: `<title>The Local Thing</title><summary>A short summary</summary><tags>folderfeed sample xunit-helper</tags>
    <projectUrl>https://example.test/thing</projectUrl><iconUrl>https://example.test/thing.png</iconUrl>
    <license type="expression">MIT</license><licenseUrl>https://licenses.nuget.org/MIT</licenseUrl>
    <dependencies><group targetFramework="net8.0"><dependency id="Xunit.Abstractions" version="2.0.3" /><dependency id="Other.Pkg" version="[1.0,2.0)" /></group></dependencies>`,
});
const THING_2 = nupkg({ id: 'Local.Thing', version: '2.0.0-beta.1+build.7', metadata: '<tags>folderfeed</tags>' });
const TOOL = nupkg({
  id: 'My.Tool',
  version: '1.0.0',
  metadata: '<packageTypes><packageType name="DotnetTool" /></packageTypes><icon>images/icon.png</icon><readme>docs/README.md</readme>',
  files: { 'images/icon.png': PNG, 'docs/README.md': strToU8('# My.Tool\n'), 'tools/net8.0/any/_._': new Uint8Array(0) },
});

const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('base64');
const etagOf = (sha: string): string => `"${Buffer.from(sha, 'base64').toString('hex').slice(0, 40)}"`;
const search = (q: Record<string, string>) => parseSearchParams(q);

/** The whole body of a blob; a file body's handle is read and closed, as the sender would. */
async function bytesOf(blob: BlobResult): Promise<Buffer> {
  const body = blob.body;
  if (body.kind === 'buffer') return body.data;
  if (body.kind === 'file') {
    try {
      return await body.handle.readFile();
    } finally {
      await body.handle.close();
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of body.stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function value<T>(answer: Answer<T>): T {
  assert.ok(answer.found, 'expected an answer');
  assert.deepEqual(answer.meta, { state: 'HIT', ageMs: 0, freshMs: 0 });
  return answer.value;
}

/** Every string in a JSON value that looks like a URL, except the values of the `skip` keys. */
function urlsIn(v: unknown, skip: ReadonlySet<string>, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (/^[a-z]+:\/\//i.test(v)) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) urlsIn(x, skip, out);
  } else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) if (!skip.has(k)) urlsIn(x, skip, out);
  }
  return out;
}

const entryOf = (item: Json): Json => item['catalogEntry'] as Json;

let dir: string;
let source: FolderSource;
const sources: FolderSource[] = [];

async function open(folder: string, opts: { rescanMs?: number; now?: () => number } = {}): Promise<FolderSource> {
  const s = await createFolderSource({
    name: NAME,
    url: pathToFileURL(folder).href,
    log: createLogger('silent'),
    rescanMs: opts.rescanMs ?? 0,
    ...(opts.now ? { clock: { now: opts.now } } : {}),
  });
  sources.push(s);
  return s;
}

async function copyStorePackage(to: string, lowerId: string, version: string): Promise<void> {
  const dest = join(to, lowerId, version);
  await mkdir(dest, { recursive: true });
  for (const f of [`${lowerId}.${version}.nupkg`, `${lowerId}.${version}.nupkg.sha512`, `${lowerId}.nuspec`]) {
    await copyFile(join(STORE, lowerId, version, f), join(dest, f));
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nugate-folder-source-'));
  await copyStorePackage(dir, 'xunit', '2.9.3');
  await copyStorePackage(dir, 'xunit.abstractions', '2.0.3');
  await mkdir(join(dir, 'drop', 'tools'), { recursive: true });
  await writeFile(join(dir, 'drop', 'Local.Thing.1.0.0.nupkg'), THING_1);
  await writeFile(join(dir, 'drop', 'Local.Thing.2.0.0-beta.1+build.7.nupkg'), THING_2);
  await writeFile(join(dir, 'drop', 'tools', 'My.Tool.1.0.0.nupkg'), TOOL);
  await symlink(join(STORE, 'newtonsoft.json', '13.0.3', 'newtonsoft.json.13.0.3.nupkg'), join(dir, 'drop', 'evil.nupkg'));
  source = await open(dir);
});

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('FolderSource: what it is', () => {
  it('is local, always healthy, searchable and publishable, with no vulnerability data, symbols or linked documents', async () => {
    assert.equal(source.name, NAME);
    assert.equal(source.local, true);
    assert.equal(source.health(), 'closed');
    assert.deepEqual(await source.capabilities(), { search: true, vulnerability: false, publish: true, symbols: false, browserTemplates: [] });
    assert.deepEqual(await source.publishTarget('package'), { kind: 'folder' });
    assert.equal(await source.publishTarget('symbols'), undefined);
    assert.equal((await source.vulnerabilityIndex()).found, false);
    assert.equal((await source.linked('1.abc.def')).found, false);
    assert.equal(typeof source.publisher.push, 'function');
  });

  it('refuses a missing folder, a file and a remote file: URL at creation', async () => {
    const log = createLogger('silent');
    await assert.rejects(createFolderSource({ name: 'x', url: pathToFileURL(join(dir, 'missing')).href, log }), /not a readable folder/);
    await assert.rejects(createFolderSource({ name: 'x', url: pathToFileURL(join(dir, 'drop', 'Local.Thing.1.0.0.nupkg')).href, log }), /not a directory/);
    await assert.rejects(createFolderSource({ name: 'x', url: 'file://remote-host/share/packages', log }), /not a readable folder/);
  });
});

describe('FolderSource: versions and registration', () => {
  it('lists versions lowercase, normalized and ascending for both layouts, any request case; absent ids are not found', async () => {
    assert.deepEqual(value(await source.versions('xunit')), ['2.9.3']);
    assert.deepEqual(value(await source.versions('Local.Thing')), ['1.0.0', '2.0.0-beta.1']);
    assert.deepEqual(value(await source.versions('my.tool')), ['1.0.0']);
    const absent = await source.versions('no.such.package');
    assert.equal(absent.found, false);
    assert.deepEqual(absent.meta, { state: 'HIT', ageMs: 0, freshMs: 0 });
    // The link out of the folder was never followed.
    assert.equal((await source.versions('newtonsoft.json')).found, false);
  });

  it('gives leaves with full catalog entries built from the nuspec, dependency groups included', async () => {
    const leaves = value(await source.registration('LOCAL.THING'));
    assert.deepEqual(leaves.map((l) => [l.version, l.upstream]), [['1.0.0', NAME], ['2.0.0-beta.1', NAME]]);
    const [v1, v2] = leaves.map((l) => l.item);
    assert.ok(v1 && v2);
    assert.equal(v1['@id'], `${FEED_SENTINEL}registration/local.thing/1.0.0.json`);
    assert.equal(v1['packageContent'], `${FEED_SENTINEL}flatcontainer/local.thing/1.0.0/local.thing.1.0.0.nupkg`);
    assert.equal(v1['registration'], `${FEED_SENTINEL}registration/local.thing/index.json`);
    const e1 = entryOf(v1);
    assert.equal(e1['id'], 'Local.Thing');
    assert.equal(e1['version'], '1.0.0');
    assert.equal(e1['title'], 'The Local Thing');
    assert.equal(e1['summary'], 'A short summary');
    assert.equal(e1['authors'], 'Folder Tests, Someone Else');
    assert.equal(e1['description'], 'Local.Thing 1.0.0 for the folder source tests');
    assert.deepEqual(e1['tags'], ['folderfeed', 'sample', 'xunit-helper']);
    assert.equal(e1['projectUrl'], 'https://example.test/thing');
    assert.equal(e1['iconUrl'], 'https://example.test/thing.png', 'the author\'s legacy iconUrl, as written');
    assert.equal(e1['licenseExpression'], 'MIT');
    assert.equal(e1['licenseUrl'], 'https://licenses.nuget.org/MIT');
    assert.equal(e1['listed'], true);
    assert.ok(!Number.isNaN(Date.parse(String(e1['published']))));
    assert.equal(e1['packageContent'], v1['packageContent']);
    assert.equal(e1['packageHash'], sha512(THING_1), 'computed for a loose file without a .sha512 sidecar');
    assert.equal(e1['packageHashAlgorithm'], 'SHA512');
    assert.equal(e1['packageSize'], THING_1.length);
    assert.deepEqual(e1['dependencyGroups'], [
      {
        targetFramework: 'net8.0',
        dependencies: [
          { id: 'Xunit.Abstractions', range: '[2.0.3, )', registration: `${FEED_SENTINEL}registration/xunit.abstractions/index.json` },
          { id: 'Other.Pkg', range: '[1.0.0, 2.0.0)', registration: `${FEED_SENTINEL}registration/other.pkg/index.json` },
        ],
      },
    ]);
    assert.equal(entryOf(v2)['version'], '2.0.0-beta.1+build.7', 'the full version, metadata included');
    assert.equal((await source.registration('no.such.package')).found, false);
  });

  it('describes a real signed package completely: its sidecar hash, dependency ranges, embedded icon and readme', async () => {
    const [leaf] = value(await source.registration('xunit'));
    assert.ok(leaf);
    const e = entryOf(leaf.item);
    const sidecar = (await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg.sha512'), 'utf8')).trim();
    assert.equal(e['packageHash'], sidecar);
    assert.equal(e['packageHash'], sha512(await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'))));
    assert.equal(e['title'], 'xUnit.net');
    assert.equal(e['licenseExpression'], 'Apache-2.0');
    assert.equal(e['minClientVersion'], '2.12');
    assert.equal(e['iconUrl'], `${FEED_SENTINEL}flatcontainer/xunit/2.9.3/icon`);
    assert.equal(e['readmeUrl'], `${FEED_SENTINEL}flatcontainer/xunit/2.9.3/readme`);
    const groups = e['dependencyGroups'] as Array<{ dependencies: Array<{ id: string; range: string }> }>;
    assert.deepEqual(groups[0]?.dependencies.map((d) => `${d.id} ${d.range}`), ['xunit.core [2.9.3, 2.9.3]', 'xunit.assert [2.9.3, )', 'xunit.analyzers [1.18.0, )']);
  });

  it('writes only canonical URLs (or the author\'s own links), never a synthetic or file: one', async () => {
    const docs: unknown[] = [];
    for (const id of ['xunit', 'xunit.abstractions', 'local.thing', 'my.tool']) docs.push(value(await source.registration(id)));
    docs.push(value(await source.search(search({ q: '', prerelease: 'true', semVerLevel: '2.0.0' }), {})));
    docs.push(await source.held());
    const text = JSON.stringify(docs);
    assert.ok(!text.includes('folder.nugate.invalid'));
    assert.ok(!text.includes('file:'));
    assert.ok(!text.includes(dir), 'no path of the folder');
    // Links the package's author wrote in the nuspec are passed on as written: they name the author's sites.
    // (iconUrl is canonical for an embedded icon, see the tests above, and the author's <iconUrl> otherwise.)
    const urls = urlsIn(docs, new Set(['licenseUrl', 'projectUrl', 'iconUrl']));
    assert.ok(urls.length > 20);
    for (const u of urls) assert.ok(u.startsWith(`${FEED_SENTINEL}registration/`) || u.startsWith(`${FEED_SENTINEL}flatcontainer/`), u);
  });
});

describe('FolderSource: search and autocomplete', () => {
  it('searches id, title, description, tags and summary, ranked exact id, prefix, substring, other, with canonical URLs', async () => {
    const ranked = value(await source.search(search({ q: 'xunit' }), {}));
    assert.deepEqual(ranked.data.map((d) => d['id']), ['xunit', 'xunit.abstractions', 'Local.Thing']);
    assert.equal(ranked.totalHits, 3);
    const first = ranked.data[0];
    assert.ok(first);
    assert.equal(first['registration'], `${FEED_SENTINEL}registration/xunit/index.json`);
    assert.deepEqual(first['versions'], [{ version: '2.9.3', downloads: 0, '@id': `${FEED_SENTINEL}registration/xunit/2.9.3.json` }]);
    assert.equal(first['iconUrl'], `${FEED_SENTINEL}flatcontainer/xunit/2.9.3/icon`);
    assert.deepEqual(first['packageTypes'], [{ name: 'Dependency' }]);
    assert.deepEqual(value(await source.search(search({ q: 'FOLDERFEED' }), {})).data.map((d) => d['id']), ['Local.Thing']);
    assert.deepEqual(value(await source.search(search({ q: 'short summary' }), {})).data.map((d) => d['id']), ['Local.Thing']);
    assert.deepEqual(value(await source.search(search({ q: 'packageid:XUNIT' }), {})).data.map((d) => d['id']), ['xunit']);
    assert.equal(value(await source.search(search({ q: 'nothing-matches-this' }), {})).totalHits, 0);
    const paged = value(await source.search(search({ q: 'xunit', skip: '1', take: '1' }), {}));
    assert.deepEqual(paged.data.map((d) => d['id']), ['xunit.abstractions']);
    assert.equal(paged.totalHits, 3);
  });

  it('filters prerelease, SemVer2 and package types', async () => {
    const thing = async (q: Record<string, string>): Promise<unknown> => {
      const hit = value(await source.search(search({ q: 'local.thing', ...q }), {})).data.find((d) => d['id'] === 'Local.Thing');
      return hit === undefined ? undefined : [hit['version'], (hit['versions'] as Array<{ version: string }>).map((v) => v.version)];
    };
    assert.deepEqual(await thing({}), ['1.0.0', ['1.0.0']]);
    assert.deepEqual(await thing({ prerelease: 'true' }), ['1.0.0', ['1.0.0']], 'SemVer2 hidden without semVerLevel');
    assert.deepEqual(await thing({ prerelease: 'true', semVerLevel: '2.0.0' }), ['2.0.0-beta.1+build.7', ['1.0.0', '2.0.0-beta.1+build.7']]);
    const types = async (packageType: string): Promise<unknown[]> => value(await source.search(search({ packageType }), {})).data.map((d) => d['id']);
    assert.deepEqual(await types('dotnettool'), ['My.Tool']);
    assert.deepEqual(await types('Dependency'), ['Local.Thing', 'xunit', 'xunit.abstractions']);
    assert.deepEqual(await types('NoSuchType'), []);
  });

  it('autocompletes ids (prefix first) and the versions of an id', async () => {
    assert.deepEqual(value(await source.autocomplete(search({ q: 'xunit' }))), { totalHits: 2, data: ['xunit', 'xunit.abstractions'] });
    assert.deepEqual(value(await source.autocomplete(search({ q: 'thing' }))), { totalHits: 1, data: ['Local.Thing'] });
    assert.equal(value(await source.autocomplete(search({}))).totalHits, 4);
    assert.deepEqual(value(await source.autocompleteVersions('Local.Thing', search({}))), ['1.0.0']);
    assert.deepEqual(value(await source.autocompleteVersions('local.thing', search({ prerelease: 'true', semVerLevel: '2.0.0' }))), ['1.0.0', '2.0.0-beta.1+build.7']);
    assert.equal((await source.autocompleteVersions('no.such.package', search({}))).found, false);
  });

  it('held() describes every package with catalog entries local search can rank', async () => {
    const held = await source.held();
    assert.deepEqual(held.map((p) => [p.id, p.displayId, p.versions.map((v) => v.version)]), [
      ['local.thing', 'Local.Thing', ['1.0.0', '2.0.0-beta.1+build.7']],
      ['my.tool', 'My.Tool', ['1.0.0']],
      ['xunit', 'xunit', ['2.9.3']],
      ['xunit.abstractions', 'xunit.abstractions', ['2.0.3']],
    ]);
    const tool = held.find((p) => p.id === 'my.tool')?.versions[0];
    assert.equal(tool?.listed, true);
    assert.deepEqual(tool?.entry?.['packageTypes'], [{ name: 'DotnetTool' }]);
    assert.equal(tool?.entry?.['description'], 'My.Tool 1.0.0 for the folder source tests');
  });
});

describe('FolderSource: package files', () => {
  it('serves the nupkg byte for byte from an open handle, with size, a strong etag from its SHA-512, state HIT', async () => {
    const original = await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
    const blob = await source.file('xunit', '2.9.3', 'nupkg');
    assert.ok(blob);
    assert.equal(blob.body.kind, 'file');
    assert.equal(blob.size, original.length);
    assert.equal(blob.contentType, 'application/octet-stream');
    assert.equal(blob.state, 'HIT');
    assert.equal(blob.sha512, sha512(original));
    assert.equal(blob.etag, etagOf(sha512(original)));
    assert.ok((await bytesOf(blob)).equals(original), 'the signed package must be served unchanged');

    const loose = await source.file('Local.Thing', '2.0.0-BETA.1', 'nupkg');
    assert.ok(loose);
    assert.ok((await bytesOf(loose)).equals(THING_2), 'any case, the SemVer2 file');
    assert.equal(await source.file('xunit', '9.9.9', 'nupkg'), undefined);
    assert.equal(await source.file('no.such.package', '1.0.0', 'nupkg'), undefined);
    assert.equal(await source.file('xunit', 'not-a-version', 'nupkg'), undefined);
  });

  it('extracts the nuspec exactly as stored, and the icon and readme only when the nuspec declares them', async () => {
    const { xml } = await readManifestFromFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
    const nuspec = await source.file('xunit', '2.9.3', 'nuspec');
    assert.ok(nuspec);
    assert.equal(nuspec.body.kind, 'buffer');
    assert.ok((await bytesOf(nuspec)).equals(xml));
    assert.equal(nuspec.size, xml.length);
    assert.match(nuspec.contentType, /xml/);
    assert.equal(nuspec.etag, etagOf(sha512(xml)));

    const icon = await source.file('my.tool', '1.0.0', 'icon');
    assert.ok(icon);
    assert.equal(icon.contentType, 'image/png');
    assert.ok((await bytesOf(icon)).equals(PNG));
    const readme = await source.file('my.tool', '1.0.0', 'readme');
    assert.ok(readme);
    assert.match(readme.contentType, /^text\/markdown/);
    assert.equal((await bytesOf(readme)).toString('utf8'), '# My.Tool\n');

    assert.equal(await source.file('local.thing', '1.0.0', 'icon'), undefined, 'an iconUrl is not an embedded icon');
    assert.equal(await source.file('local.thing', '1.0.0', 'readme'), undefined);
    assert.equal(await source.holds('local.thing', '1.0.0', 'icon'), false);
    assert.equal(await source.holds('my.tool', '1.0.0', 'icon'), true);
    assert.equal(await source.holds('My.Tool', '1.0', 'nupkg'), true, 'any case, any equivalent version form');
    assert.equal(await source.holds('my.tool', '2.0.0', 'nupkg'), false);
  });
});

describe('FolderSource: changes to the folder', () => {
  let folder: string;
  let own: FolderSource;
  let now = 1_000_000;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'nugate-folder-source-changes-'));
    await writeFile(join(folder, 'Local.Thing.1.0.0.nupkg'), THING_1);
    own = await open(folder, { now: () => now });
  });
  after(() => rm(folder, { recursive: true, force: true }));

  it('a push through the publisher is visible at once: versions, registration, search and the file', async () => {
    const spool = join(tmpdir(), `nugate-spool-${process.pid}-${Date.now()}.tmp`);
    const pushed = nupkg({ id: 'Pushed.Pkg', version: '1.0.0-Beta', metadata: '<tags>pushedfeed</tags>' });
    await writeFile(spool, pushed);
    try {
      assert.equal(await own.publisher.push(spool, { id: 'Pushed.Pkg', version: '1.0.0-Beta' }), 'created');
    } finally {
      await rm(spool, { force: true });
    }
    assert.deepEqual(value(await own.versions('pushed.pkg')), ['1.0.0-beta']);
    const [leaf] = value(await own.registration('pushed.pkg'));
    assert.equal(leaf && entryOf(leaf.item)['packageHash'], sha512(pushed));
    assert.deepEqual(value(await own.search(search({ q: 'pushedfeed', prerelease: 'true' }), {})).data.map((d) => d['id']), ['Pushed.Pkg']);
    const blob = await own.file('pushed.pkg', '1.0.0-beta', 'nupkg');
    assert.ok(blob);
    assert.ok((await bytesOf(blob)).equals(pushed));
  });

  it('unlisted versions (marker beside the file) say listed: false / published 1900, stay restorable, leave search', async () => {
    const file = join(folder, 'Local.Thing.1.0.0.nupkg');
    await writeFile(`${file}${UNLISTED_SUFFIX}`, 'unlisted');
    await own.invalidate('local.thing');
    const e = entryOf(value(await own.registration('local.thing'))[0]?.item ?? {});
    assert.equal(e['listed'], false);
    assert.equal(e['published'], '1900-01-01T00:00:00+00:00');
    assert.deepEqual(value(await own.versions('local.thing')), ['1.0.0'], 'the flat list keeps unlisted versions');
    const blob = await own.file('local.thing', '1.0.0', 'nupkg');
    assert.ok(blob, 'restore of the exact version still works');
    await bytesOf(blob);
    assert.equal(value(await own.search(search({ q: 'local.thing' }), {})).totalHits, 0);
    assert.deepEqual(value(await own.search(search({ q: 'local.thing' }), { includeDelisted: 'true' })).data.map((d) => d['id']), ['Local.Thing']);
    assert.equal(value(await own.autocomplete(search({ q: 'local' }))).totalHits, 0);
    assert.equal((await own.held()).find((p) => p.id === 'local.thing')?.versions[0]?.listed, false);

    assert.equal(await own.publisher.relist('Local.Thing', '1.0.0'), true);
    assert.equal(entryOf(value(await own.registration('local.thing'))[0]?.item ?? {})['listed'], true);
  });

  it('a file copied in is visible after invalidate(), and to a lookup for that very version, at most one rescan per 2 s', async () => {
    await writeFile(join(folder, 'Copied.Pkg.1.0.0.nupkg'), nupkg({ id: 'Copied.Pkg', version: '1.0.0' }));
    assert.equal((await own.versions('copied.pkg')).found, false, 'not before a rescan');
    await own.invalidate('copied.pkg');
    assert.deepEqual(value(await own.versions('copied.pkg')), ['1.0.0']);

    await writeFile(join(folder, 'Copied.Pkg.2.0.0.nupkg'), nupkg({ id: 'Copied.Pkg', version: '2.0.0' }));
    // The last scan started "now": a miss does not walk the folder again yet.
    assert.deepEqual(value(await own.versions('copied.pkg', { mustInclude: '2.0.0' })), ['1.0.0']);
    now += 2_000;
    assert.deepEqual(value(await own.versions('copied.pkg', { mustInclude: '2.0.0' })), ['1.0.0', '2.0.0']);
  });

  it('a file deleted between the scan and file() is undefined, not an error, and leaves the index', async () => {
    const path = join(folder, 'Doomed.Pkg.1.0.0.nupkg');
    await writeFile(path, nupkg({ id: 'Doomed.Pkg', version: '1.0.0' }));
    await own.invalidate('doomed.pkg');
    assert.equal(await own.holds('doomed.pkg', '1.0.0', 'nupkg'), true);
    await unlink(path);
    assert.equal(await own.file('doomed.pkg', '1.0.0', 'nupkg'), undefined);
    assert.equal(await own.file('doomed.pkg', '1.0.0', 'nuspec'), undefined);
    await own.invalidate('doomed.pkg');
    assert.equal((await own.versions('doomed.pkg')).found, false);
  });

  it('a package file swapped for a link out of the folder is never opened', async () => {
    const path = join(folder, 'Swapped.Pkg.1.0.0.nupkg');
    await writeFile(path, nupkg({ id: 'Swapped.Pkg', version: '1.0.0' }));
    await own.invalidate('swapped.pkg');
    await unlink(path);
    await symlink(join(STORE, 'newtonsoft.json', '13.0.3', 'newtonsoft.json.13.0.3.nupkg'), path);
    assert.equal(await own.file('swapped.pkg', '1.0.0', 'nupkg'), undefined);
    assert.equal(await own.file('swapped.pkg', '1.0.0', 'nuspec'), undefined);
  });

  it('a file rewritten since the scan is served as it is now, under its own hash (rescanned first)', async () => {
    const path = join(folder, 'Changing.Pkg.1.0.0.nupkg');
    const before = nupkg({ id: 'Changing.Pkg', version: '1.0.0', metadata: '<title>before</title>' });
    const after = nupkg({ id: 'Changing.Pkg', version: '1.0.0', metadata: '<title>after, and longer than before</title>' });
    await writeFile(path, before);
    await own.invalidate('changing.pkg');
    await writeFile(path, after);
    // Some file systems keep the same mtime for two writes in one tick: the size differs anyway, and this makes sure.
    await utimes(path, new Date(), new Date(Date.now() + 5_000));
    const blob = await own.file('changing.pkg', '1.0.0', 'nupkg');
    assert.ok(blob);
    assert.equal(blob.sha512, sha512(after));
    assert.ok((await bytesOf(blob)).equals(after));
    assert.equal(entryOf(value(await own.registration('changing.pkg'))[0]?.item ?? {})['title'], 'after, and longer than before');
  });

  it('a nupkg already handed out survives its removal from the folder', async () => {
    const path = join(folder, 'Removed.Pkg.1.0.0.nupkg');
    const bytes = nupkg({ id: 'Removed.Pkg', version: '1.0.0', files: { 'lib/net8.0/big.bin': new Uint8Array(512 * 1024).fill(7) } });
    await writeFile(path, bytes);
    await own.invalidate('removed.pkg');
    const blob = await own.file('removed.pkg', '1.0.0', 'nupkg');
    assert.ok(blob);
    await unlink(path);
    assert.ok((await bytesOf(blob)).equals(bytes));
  });
});
