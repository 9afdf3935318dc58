/**
 * A folder of .nupkg files as an upstream (src/upstream/folder-transport.ts): the Transport answers the requests
 * an HTTP V3 feed would, for both folder layouts, and never reads outside the folder.
 *
 * Folder under test:
 *   xunit/2.9.3/…, xunit.abstractions/2.0.3/…   copied from the machine's global-packages folder (signed, .sha512)
 *   drop/Local.Thing.1.0.0.nupkg                generated, flat layout, no .sha512 sibling
 *   drop/Local.Thing.2.0.0-beta.1+build.7.nupkg generated SemVer2 prerelease
 *   drop/broken.nupkg                           not a zip
 *   drop/evil.nupkg -> /opt/.../newtonsoft.json…nupkg   symbolic link out of the folder
 *   drop/nested/My.Xunit.Helpers.1.0.0.nupkg    generated, declares a package type
 *   drop/zz-copy/Local.Thing.1.0.0.nupkg        a second copy of an id+version (different bytes)
 *   outside -> /opt/nuget/packages/xunit.core   directory link out of the folder
 *   xunit/2.9.3/lib/Decoy.Pkg…, .git/Hidden.Pkg…, drop/Symbols.Pkg….symbols.nupkg   never indexed
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { createFolderSource, type FolderSource } from '../../../src/upstream/folder-transport.ts';
import { folderUrls } from '../../../src/sources/folder/documents.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { parseServiceIndex } from '../../../src/nuget/service-index.ts';
import { isAbsoluteHttpUrl } from '../../../src/nuget/rewrite.ts';
import { readManifestFromFile } from '../../../src/nuget/nupkg.ts';

const STORE = '/opt/nuget/packages';
const NAME = 'local';
const urls = folderUrls(NAME);
const base = urls.base;

interface Spec {
  id: string;
  version: string;
  description: string;
  tags?: string;
  packageTypes?: string[];
  dependencies?: Array<{ id: string; version?: string }>;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A small unsigned package: root nuspec, [Content_Types].xml and a lib/net10.0 placeholder. */
function buildNupkg(spec: Spec): Buffer {
  const types = (spec.packageTypes ?? []).map((t) => `<packageType name="${xmlEscape(t)}" />`).join('');
  const deps = (spec.dependencies ?? [])
    .map((d) => `<dependency id="${xmlEscape(d.id)}"${d.version === undefined ? '' : ` version="${xmlEscape(d.version)}"`} />`)
    .join('');
  const nuspec = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">',
    '  <metadata>',
    `    <id>${xmlEscape(spec.id)}</id>`,
    `    <version>${xmlEscape(spec.version)}</version>`,
    '    <authors>Folder Tests, Someone Else</authors>',
    `    <description>${xmlEscape(spec.description)}</description>`,
    spec.tags === undefined ? '' : `    <tags>${xmlEscape(spec.tags)}</tags>`,
    types === '' ? '' : `    <packageTypes>${types}</packageTypes>`,
    `    <dependencies><group targetFramework="net10.0">${deps}</group></dependencies>`,
    '  </metadata>',
    '</package>',
  ].join('\n');
  const contentTypes = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
    '  <Default Extension="nuspec" ContentType="application/octet" />',
    '  <Default Extension="_" ContentType="application/octet" />',
    '</Types>',
  ].join('\n');
  const mtime = new Date('2024-01-15T10:20:30Z');
  return Buffer.from(
    zipSync(
      {
        [`${spec.id}.nuspec`]: [strToU8(nuspec), { mtime }],
        '[Content_Types].xml': [strToU8(contentTypes), { mtime }],
        'lib/net10.0/_._': [new Uint8Array(0), { mtime }],
      },
      { level: 6 },
    ),
  );
}

const THING_1 = buildNupkg({ id: 'Local.Thing', version: '1.0.0', description: 'A thing for folderfeed tests that mentions xunit', tags: 'folderfeed sample', dependencies: [{ id: 'xunit.abstractions', version: '2.0.3' }] });
const THING_2 = buildNupkg({ id: 'Local.Thing', version: '2.0.0-beta.1+build.7', description: 'A newer thing', dependencies: [{ id: 'Xunit.Abstractions', version: '[2.0.3,3.0.0)' }] });
const THING_1_COPY = buildNupkg({ id: 'Local.Thing', version: '1.0', description: 'the losing duplicate' });
const HELPERS = buildNupkg({ id: 'My.Xunit.Helpers', version: '1.0.0', description: 'helpers', packageTypes: ['DotnetTool'] });

const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('base64');

let dir: string;
let source: FolderSource;
const logs: string[] = [];

function logger(): ReturnType<typeof createLogger> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  return createLogger('debug', sink);
}

async function copyStorePackage(lowerId: string, version: string): Promise<void> {
  const to = join(dir, lowerId, version);
  await mkdir(to, { recursive: true });
  for (const f of [`${lowerId}.${version}.nupkg`, `${lowerId}.${version}.nupkg.sha512`, `${lowerId}.nuspec`]) {
    await copyFile(join(STORE, lowerId, version, f), join(to, f));
  }
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

async function call(url: string, opts: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; src?: FolderSource } = {}): Promise<Reply> {
  const res = await (opts.src ?? source).transport({ upstream: NAME, url, method: opts.method ?? 'GET', headers: opts.headers ?? {}, timeout: 5000 });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  return { status: res.status, headers: res.headers, body: Buffer.concat(chunks) };
}

async function json<T>(url: string): Promise<T> {
  const r = await call(url);
  assert.equal(r.status, 200, `${url} answered ${r.status}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(Number(r.headers['content-length']), r.body.length);
  return JSON.parse(r.body.toString('utf8')) as T;
}

/** Every string in a JSON value that looks like a URL. */
function urlsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (/^[a-z]+:\/\//i.test(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) urlsIn(v, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) urlsIn(v, out);
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nugate-folder-'));
  await copyStorePackage('xunit', '2.9.3');
  await copyStorePackage('xunit.abstractions', '2.0.3');
  await mkdir(join(dir, 'drop', 'nested'), { recursive: true });
  await mkdir(join(dir, 'drop', 'zz-copy'), { recursive: true });
  await writeFile(join(dir, 'drop', 'Local.Thing.1.0.0.nupkg'), THING_1);
  await writeFile(join(dir, 'drop', 'Local.Thing.2.0.0-beta.1+build.7.nupkg'), THING_2);
  await writeFile(join(dir, 'drop', 'broken.nupkg'), Buffer.from('this is not a zip file'));
  await writeFile(join(dir, 'drop', 'nested', 'My.Xunit.Helpers.1.0.0.nupkg'), HELPERS);
  await writeFile(join(dir, 'drop', 'zz-copy', 'Local.Thing.1.0.0.nupkg'), THING_1_COPY);
  // Never indexed: inside an extracted package of the hierarchical layout, in a hidden folder, a symbols package.
  await mkdir(join(dir, 'xunit', '2.9.3', 'lib'), { recursive: true });
  await writeFile(join(dir, 'xunit', '2.9.3', 'lib', 'Decoy.Pkg.1.0.0.nupkg'), buildNupkg({ id: 'Decoy.Pkg', version: '1.0.0', description: 'decoy' }));
  await mkdir(join(dir, '.git'), { recursive: true });
  await writeFile(join(dir, '.git', 'Hidden.Pkg.1.0.0.nupkg'), buildNupkg({ id: 'Hidden.Pkg', version: '1.0.0', description: 'hidden' }));
  await writeFile(join(dir, 'drop', 'Symbols.Pkg.1.0.0.symbols.nupkg'), buildNupkg({ id: 'Symbols.Pkg', version: '1.0.0', description: 'symbols' }));
  await symlink(join(STORE, 'newtonsoft.json', '13.0.3', 'newtonsoft.json.13.0.3.nupkg'), join(dir, 'drop', 'evil.nupkg'));
  await symlink(join(STORE, 'xunit.core'), join(dir, 'outside'));
  source = await createFolderSource({ name: NAME, serviceIndexUrl: pathToFileURL(dir).href, log: logger(), rescanMs: 0 });
  // The first scan runs in the background (requests wait for it); finish it before any test touches the folder.
  await source.rescan();
});

after(async () => {
  await source?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('folder upstream transport', () => {
  it('answers its own file: URL with a V3 service index whose resources are absolute http URLs under the synthetic base', async () => {
    const doc = await json<{ version: string; resources: Array<{ '@id': string; '@type': string }> }>(pathToFileURL(dir).href);
    assert.equal(doc.version, '3.0.0');
    const byType = new Map(doc.resources.map((r) => [r['@type'], r['@id']]));
    assert.equal(byType.get('PackageBaseAddress/3.0.0'), `${base}flat/`);
    assert.equal(byType.get('RegistrationsBaseUrl/3.6.0'), `${base}reg/`);
    assert.equal(byType.get('SearchQueryService/3.0.0-beta'), `${base}query`);
    assert.equal(byType.get('SearchAutocompleteService/3.0.0-beta'), `${base}autocomplete`);
    assert.ok(base.startsWith('http://folder.nugate.invalid/'));
    for (const r of doc.resources) assert.ok(isAbsoluteHttpUrl(r['@id']), r['@id']);
    const parsed = parseServiceIndex(doc);
    assert.equal(parsed.packageBaseAddress, `${base}flat/`);
    assert.equal(parsed.registrationSemVer2, `${base}reg/`);
    assert.deepEqual(parsed.search, [`${base}query`]);
    assert.deepEqual(parsed.autocomplete, [`${base}autocomplete`]);
  });

  it('lists versions in the flat container for both layouts, lowercase and sorted, any request case', async () => {
    assert.deepEqual(await json(`${base}flat/xunit/index.json`), { versions: ['2.9.3'] });
    assert.deepEqual(await json(`${base}flat/xunit.abstractions/index.json`), { versions: ['2.0.3'] });
    assert.deepEqual(await json(`${base}flat/local.thing/index.json`), { versions: ['1.0.0', '2.0.0-beta.1'] });
    assert.deepEqual(await json(`${base}flat/Local.Thing/index.json`), { versions: ['1.0.0', '2.0.0-beta.1'] });
    assert.deepEqual(await json(`${base}flat/my.xunit.helpers/index.json`), { versions: ['1.0.0'] });
    assert.equal((await call(`${base}flat/no.such.package/index.json`)).status, 404);
  });

  it('serves each nupkg byte for byte, with its length, and HEAD with the same headers and no body', async () => {
    const original = await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
    const r = await call(`${base}flat/xunit/2.9.3/xunit.2.9.3.nupkg`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['content-length'], String(original.length));
    assert.ok(r.body.equals(original), 'the signed package must be served unchanged');

    const generated = await call(`${base}flat/local.thing/1.0.0/local.thing.1.0.0.nupkg`);
    assert.ok(generated.body.equals(THING_1), 'the first file wins for a duplicate id+version');
    const semver2 = await call(`${base}flat/local.thing/2.0.0-beta.1/local.thing.2.0.0-beta.1.nupkg`);
    assert.ok(semver2.body.equals(THING_2));
    const nested = await call(`${base}flat/my.xunit.helpers/1.0.0/my.xunit.helpers.1.0.0.nupkg`);
    assert.ok(nested.body.equals(HELPERS));

    const head = await call(`${base}flat/xunit/2.9.3/xunit.2.9.3.nupkg`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.deepEqual(head.headers, r.headers);
    assert.equal(head.body.length, 0);
  });

  it('serves the nuspec bytes, and icon and readme only when the nuspec declares them', async () => {
    const { xml } = await readManifestFromFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
    const nuspec = await call(`${base}flat/xunit/2.9.3/xunit.nuspec`);
    assert.equal(nuspec.status, 200);
    assert.ok(nuspec.body.equals(xml));

    const icon = await call(`${base}flat/xunit/2.9.3/icon`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers['content-type'], 'image/png');
    assert.ok(icon.body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG');
    const readme = await call(`${base}flat/xunit/2.9.3/readme`);
    assert.equal(readme.status, 200);
    assert.match(readme.headers['content-type'] ?? '', /^text\/markdown/);
    assert.ok(readme.body.length > 0);

    assert.equal((await call(`${base}flat/local.thing/1.0.0/icon`)).status, 404);
    assert.equal((await call(`${base}flat/local.thing/1.0.0/readme`)).status, 404);
    const headIcon = await call(`${base}flat/xunit/2.9.3/icon`, { method: 'HEAD' });
    assert.equal(headIcon.headers['content-length'], icon.headers['content-length']);
    assert.equal(headIcon.body.length, 0);
  });

  it('serves a nuget.org-shaped registration index with every version inlined', async () => {
    interface Leaf {
      '@id': string;
      packageContent: string;
      registration: string;
      catalogEntry: {
        '@id': string;
        id: string;
        version: string;
        authors: string;
        description: string;
        listed: boolean;
        packageContent: string;
        published: string;
        packageHash: string;
        packageHashAlgorithm: string;
        tags: string[];
        dependencyGroups: Array<{ targetFramework?: string; dependencies: Array<{ id: string; range: string; registration: string }> }>;
        iconUrl?: string;
        licenseExpression: string;
        licenseUrl: string;
      };
    }
    interface Index {
      '@id': string;
      count: number;
      items: Array<{ '@id': string; count: number; lower: string; upper: string; parent: string; items: Leaf[] }>;
    }
    const doc = await json<Index>(`${base}reg/local.thing/index.json`);
    assert.equal(doc['@id'], `${base}reg/local.thing/index.json`);
    assert.equal(doc.count, 1);
    const page = doc.items[0];
    assert.ok(page);
    assert.equal(page.count, 2);
    assert.equal(page.lower, '1.0.0');
    assert.equal(page.upper, '2.0.0-beta.1');
    assert.equal(page.parent, doc['@id']);
    const [v1, v2] = page.items;
    assert.ok(v1 && v2);
    assert.equal(v1.catalogEntry.id, 'Local.Thing');
    assert.equal(v1.catalogEntry.version, '1.0.0');
    assert.equal(v2.catalogEntry.version, '2.0.0-beta.1+build.7', 'the full version, metadata included');
    assert.equal(v1.catalogEntry.listed, true);
    assert.equal(v1.catalogEntry.authors, 'Folder Tests, Someone Else');
    assert.deepEqual(v1.catalogEntry.tags, ['folderfeed', 'sample']);
    assert.equal(v1.packageContent, `${base}flat/local.thing/1.0.0/local.thing.1.0.0.nupkg`);
    assert.equal(v1.catalogEntry.packageContent, v1.packageContent);
    assert.equal(v1.registration, doc['@id']);
    assert.ok(!Number.isNaN(Date.parse(v1.catalogEntry.published)));
    assert.equal(v1.catalogEntry.packageHashAlgorithm, 'SHA512');
    assert.equal(v1.catalogEntry.packageHash, sha512(THING_1), 'computed for a package without a .sha512 sibling');
    assert.deepEqual(v1.catalogEntry.dependencyGroups, [
      { targetFramework: 'net10.0', dependencies: [{ id: 'xunit.abstractions', range: '[2.0.3, )', registration: `${base}reg/xunit.abstractions/index.json` }] },
    ]);
    assert.equal(v2.catalogEntry.dependencyGroups[0]?.dependencies[0]?.range, '[2.0.3, 3.0.0)');

    const xunit = await json<Index>(`${base}reg/xunit/index.json`);
    const leaf = xunit.items[0]?.items[0];
    assert.ok(leaf);
    const sibling = (await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg.sha512'), 'utf8')).trim();
    assert.equal(leaf.catalogEntry.packageHash, sibling);
    assert.equal(leaf.catalogEntry.packageHash, sha512(await readFile(join(STORE, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'))));
    assert.equal(leaf.catalogEntry.iconUrl, `${base}flat/xunit/2.9.3/icon`);
    assert.equal(leaf.catalogEntry.licenseExpression, 'Apache-2.0');
    const deps = leaf.catalogEntry.dependencyGroups[0]?.dependencies.map((d) => `${d.id} ${d.range}`);
    assert.deepEqual(deps, ['xunit.core [2.9.3, 2.9.3]', 'xunit.assert [2.9.3, )', 'xunit.analyzers [1.18.0, )']);

    // Every URL in the document is absolute http(s) and under an advertised base, so nugate can rewrite it;
    // the only exception is the link the package's author wrote (xunit's <licenseUrl>), passed on as written.
    assert.equal(leaf.catalogEntry.licenseUrl, 'https://licenses.nuget.org/Apache-2.0');
    for (const u of [...urlsIn(doc), ...urlsIn(xunit)].filter((u) => u !== leaf.catalogEntry.licenseUrl)) {
      assert.ok(isAbsoluteHttpUrl(u) && (u.startsWith(`${base}flat/`) || u.startsWith(`${base}reg/`)), u);
    }

    // The leaf @id resolves to a registration leaf.
    const leafDoc = await json<{ '@id': string; listed: boolean; packageContent: string; registration: string }>(v1['@id']);
    assert.equal(leafDoc['@id'], v1['@id']);
    assert.equal(leafDoc.packageContent, v1.packageContent);
    assert.equal(leafDoc.registration, doc['@id']);
    assert.equal((await call(`${base}reg/no.such.package/index.json`)).status, 404);
  });

  it('searches id, title, description and tags, ranked exact id, id prefix, id substring, other', async () => {
    interface Search {
      totalHits: number;
      data: Array<{ id: string; version: string; registration: string; versions: Array<{ version: string; '@id': string; downloads: number }>; packageTypes: Array<{ name: string }>; totalDownloads: number }>;
    }
    const ranked = await json<Search>(`${base}query?q=xunit&take=20`);
    assert.deepEqual(ranked.data.map((d) => d.id), ['xunit', 'xunit.abstractions', 'My.Xunit.Helpers', 'Local.Thing']);
    assert.equal(ranked.totalHits, 4);
    const first = ranked.data[0];
    assert.ok(first);
    assert.equal(first.registration, `${base}reg/xunit/index.json`);
    assert.deepEqual(first.versions, [{ version: '2.9.3', downloads: 0, '@id': `${base}reg/xunit/2.9.3.json` }]);
    assert.deepEqual(first.packageTypes, [{ name: 'Dependency' }]);
    assert.equal(first.totalDownloads, 0);

    assert.deepEqual((await json<Search>(`${base}query?q=FOLDERFEED`)).data.map((d) => d.id), ['Local.Thing'], 'tags, case-insensitive');
    assert.deepEqual((await json<Search>(`${base}query?q=abstractions`)).data.map((d) => d.id), ['xunit.abstractions']);
    assert.deepEqual((await json<Search>(`${base}query?q=packageid:XUNIT`)).data.map((d) => d.id), ['xunit']);
    assert.equal((await json<Search>(`${base}query?q=nothing-matches-this`)).totalHits, 0);

    const all = await json<Search>(`${base}query`);
    assert.equal(all.totalHits, 4, 'an empty query matches every package');
    const paged = await json<Search>(`${base}query?q=xunit&skip=1&take=2`);
    assert.deepEqual(paged.data.map((d) => d.id), ['xunit.abstractions', 'My.Xunit.Helpers']);
    assert.equal(paged.totalHits, 4);
  });

  it('filters prerelease and SemVer2 versions and package types', async () => {
    interface Search {
      totalHits: number;
      data: Array<{ id: string; version: string; versions: Array<{ version: string }> }>;
    }
    const thing = async (qs: string): Promise<{ version: string; versions: string[] } | undefined> => {
      const found = (await json<Search>(`${base}query?q=local.thing&${qs}`)).data.find((d) => d.id === 'Local.Thing');
      return found === undefined ? undefined : { version: found.version, versions: found.versions.map((v) => v.version) };
    };
    assert.deepEqual(await thing(''), { version: '1.0.0', versions: ['1.0.0'] });
    assert.deepEqual(await thing('prerelease=true'), { version: '1.0.0', versions: ['1.0.0'] }, 'SemVer2 hidden without semVerLevel');
    assert.deepEqual(await thing('prerelease=false&semVerLevel=2.0.0'), { version: '1.0.0', versions: ['1.0.0'] });
    assert.deepEqual(await thing('prerelease=true&semVerLevel=2.0.0'), { version: '2.0.0-beta.1+build.7', versions: ['1.0.0', '2.0.0-beta.1+build.7'] });

    const types = async (type: string): Promise<string[]> => (await json<Search>(`${base}query?packageType=${type}`)).data.map((d) => d.id);
    assert.deepEqual(await types('DotnetTool'), ['My.Xunit.Helpers']);
    assert.deepEqual(await types('dotnettool'), ['My.Xunit.Helpers']);
    assert.deepEqual(await types('Dependency'), ['Local.Thing', 'xunit', 'xunit.abstractions'], 'no declared type counts as Dependency');
    assert.deepEqual(await types('NoSuchType'), []);
    assert.deepEqual((await json<Search>(`${base}query?packageTypeFilter=DotnetTool`)).data.map((d) => d.id), ['My.Xunit.Helpers']);
  });

  it('autocompletes ids (prefix matches first) and the versions of an id', async () => {
    assert.deepEqual(await json(`${base}autocomplete?q=xunit`), { totalHits: 3, data: ['xunit', 'xunit.abstractions', 'My.Xunit.Helpers'] });
    assert.deepEqual(await json(`${base}autocomplete?q=xunit&skip=1&take=1`), { totalHits: 3, data: ['xunit.abstractions'] });
    assert.deepEqual(((await json<{ data: string[] }>(`${base}autocomplete`)).data).length, 4);
    assert.deepEqual(await json(`${base}autocomplete?id=Local.Thing`), { totalHits: 1, data: ['1.0.0'] });
    assert.deepEqual(await json(`${base}autocomplete?id=local.thing&prerelease=true&semVerLevel=2.0.0`), { totalHits: 2, data: ['1.0.0', '2.0.0-beta.1+build.7'] });
    assert.deepEqual(await json(`${base}autocomplete?id=no.such.package`), { totalHits: 0, data: [] });
    // q present → id mode, even with id.
    assert.deepEqual(await json(`${base}autocomplete?q=thing&id=xunit`), { totalHits: 1, data: ['Local.Thing'] });
  });

  it('answers 404 for everything else, path traversal attempts included, and never reads outside the folder', async () => {
    const bad = [
      `${base}flat/..%2f../index.json`,
      `${base}flat/..%2F..%2F..%2Fetc%2Fpasswd/index.json`,
      `${base}flat/%2e%2e/index.json`,
      `${base}flat/../../../etc/passwd`,
      `${base}flat/../index.json`,
      `${base}flat/xunit/2.9.3/../../xunit/2.9.3/xunit.2.9.3.nupkg`,
      `${base}flat/xunit/..%2f..%2fxunit/xunit.2.9.3.nupkg`,
      `${base}flat/xunit/2.9.3/..%2f..%2f..%2fxunit.nuspec`,
      `${base}flat/xunit%2f2.9.3/index.json`,
      `${base}flat//index.json`,
      `${base}flat/xunit/2.9.3/xunit.2.9.3.nupkg/extra`,
      `${base}flat/xunit/2.9.3/xunit.2.9.3.nupkg.sha512`,
      `${base}flat/xunit/2.9.3/xunit.nupkg`,
      `${base}flat/xunit/2.9.3/.nupkg.metadata`,
      `${base}flat/xunit/2.9.3/lib`,
      `${base}flat/xunit/9.9.9/xunit.9.9.9.nupkg`,
      `${base}flat/xunit/2.9.3/xunit.assert.2.9.3.nupkg`,
      `${base}flat/xunit/index.json/extra`,
      `${base}flat/xunit`,
      `${base}flat/`,
      `${base}reg/xunit/page/2.9.3/2.9.3.json`,
      `${base}reg/xunit/2.9.3`,
      `${base}reg/../flat/xunit/index.json`,
      `${base}reg/`,
      `${base}catalog/index.json`,
      `${base}queryx`,
      `${base}`,
      'http://folder.nugate.invalid/other/flat/xunit/index.json',
      'http://folder.nugate.invalid/local/../local/flat/xunit/index.json',
      'file:///etc/passwd',
      `${pathToFileURL(dir).href}/xunit/2.9.3/xunit.2.9.3.nupkg`,
      // Symbolic links out of the folder are never followed: a file link and a directory link.
      `${base}flat/newtonsoft.json/index.json`,
      `${base}flat/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg`,
      `${base}flat/xunit.core/index.json`,
      `${base}flat/xunit.core/2.9.3/xunit.core.2.9.3.nupkg`,
      `${base}flat/decoy.pkg/index.json`,
      `${base}flat/hidden.pkg/index.json`,
      `${base}flat/symbols.pkg/index.json`,
    ];
    for (const url of bad) {
      const r = await call(url);
      assert.equal(r.status, 404, `${url} answered ${r.status}`);
      assert.ok(!r.body.includes('root:'), url);
    }
    // The corrupt package was skipped, and said so once.
    assert.equal(logs.filter((l) => l.includes('invalid package') && l.includes('broken.nupkg')).length, 1);
    assert.equal(logs.filter((l) => l.includes('duplicate package') && l.includes('zz-copy')).length, 1);
    assert.equal(logs.filter((l) => l.includes('outside the folder')).length, 2);
  });

  it('revalidates JSON with ETag / If-None-Match and answers HEAD without a body', async () => {
    const r = await call(`${base}flat/xunit/index.json`);
    const etag = r.headers['etag'];
    assert.ok(etag);
    const again = await call(`${base}flat/xunit/index.json`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    const head = await call(`${base}reg/xunit/index.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers['content-length']) > 0);
    assert.equal(head.body.length, 0);
  });

  it('picks up added and removed files on rescan, logging invalid and duplicate packages only once', async () => {
    const added = buildNupkg({ id: 'Local.Thing', version: '1.1.0', description: 'dropped in later' });
    const path = join(dir, 'drop', 'nested', 'local.thing.1.1.0.nupkg');
    await writeFile(path, added);
    assert.deepEqual(await json(`${base}flat/local.thing/index.json`), { versions: ['1.0.0', '2.0.0-beta.1'] }, 'not before a rescan');
    // Concurrent calls share scans.
    await Promise.all([source.rescan(), source.rescan(), source.rescan()]);
    assert.deepEqual(await json(`${base}flat/local.thing/index.json`), { versions: ['1.0.0', '1.1.0', '2.0.0-beta.1'] });
    assert.ok((await call(`${base}flat/local.thing/1.1.0/local.thing.1.1.0.nupkg`)).body.equals(added));

    await unlink(path);
    // Until the rescan, the vanished file is a 404, not an error.
    assert.equal((await call(`${base}flat/local.thing/1.1.0/local.thing.1.1.0.nupkg`)).status, 404);
    await source.rescan();
    assert.deepEqual(await json(`${base}flat/local.thing/index.json`), { versions: ['1.0.0', '2.0.0-beta.1'] });

    assert.equal(logs.filter((l) => l.includes('invalid package') && l.includes('broken.nupkg')).length, 1);
    assert.equal(logs.filter((l) => l.includes('duplicate package') && l.includes('zz-copy')).length, 1);
    assert.ok(logs.some((l) => l.includes('"msg":"folder upstream scanned"') && l.includes('"packages":6')));
  });

  it('rescans on its own timer', async (t) => {
    const own = await mkdtemp(join(tmpdir(), 'nugate-folder-timer-'));
    t.after(() => rm(own, { recursive: true, force: true }));
    const src = await createFolderSource({ name: NAME, serviceIndexUrl: pathToFileURL(own).href, log: logger(), rescanMs: 50 });
    t.after(() => src.close());
    assert.equal((await call(`${base}flat/local.thing/index.json`, { src })).status, 404);
    await writeFile(join(own, 'Local.Thing.1.0.0.nupkg'), THING_1);
    const deadline = Date.now() + 10_000;
    let status = 404;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await call(`${base}flat/local.thing/index.json`, { src })).status;
    }
    assert.equal(status, 200, 'the new package never appeared');
  });

  it('refuses a missing folder and a file: URL that is not a local path', async () => {
    await assert.rejects(createFolderSource({ name: 'x', serviceIndexUrl: pathToFileURL(join(dir, 'missing')).href, log: logger() }), /not a readable folder/);
    await assert.rejects(createFolderSource({ name: 'x', serviceIndexUrl: pathToFileURL(join(dir, 'drop', 'broken.nupkg')).href, log: logger() }), /not a directory/);
    await assert.rejects(createFolderSource({ name: 'x', serviceIndexUrl: 'file://remote-host/share/packages', log: logger() }), /not a readable folder/);
  });
});
