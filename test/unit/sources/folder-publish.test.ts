/**
 * Publishing into a folder source (src/sources/folder/publish.ts, reached as FolderSource.publisher): a push lands
 * whole, in the global-packages layout, with its .sha512, and is served at once; a duplicate (any case, any equivalent version form) is
 * 'exists' and never replaces a file; unlist and relist flip `listed` in registration and search without touching
 * the package; concurrent pushes of one id+version store exactly one file, also across two sources (processes).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { createFolderSource, type FolderSource } from '../../../src/sources/folder-source.ts';
import { UNLISTED_SUFFIX } from '../../../src/sources/folder/scan.ts';
import { parseSearchParams } from '../../../src/merge/search.ts';
import type { Answer, Json } from '../../../src/sources/source.ts';
import { NugateError } from '../../../src/errors.ts';
import { createLogger } from '../../../src/ops/logger.ts';

const NAME = 'hosted';

function nupkg(id: string, version: string, description = `${id} ${version}`): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>${id}</id><version>${version}</version><authors>tests</authors><description>${description}</description><tags>hostedfeed</tags></metadata>
</package>`;
  return Buffer.from(zipSync({ [`${id}.nuspec`]: strToU8(nuspec), 'lib/net8.0/_._': new Uint8Array(0) }));
}

const sha512 = (b: Buffer): string => createHash('sha512').update(b).digest('base64');

let root: string;
let spool: string;
const sources: FolderSource[] = [];

async function open(dir: string): Promise<FolderSource> {
  const source = await createFolderSource({ name: NAME, url: pathToFileURL(dir).href, log: createLogger('silent'), rescanMs: 0 });
  sources.push(source);
  return source;
}

function value<T>(answer: Answer<T>): T {
  assert.ok(answer.found, 'expected an answer');
  return answer.value;
}

async function versions(source: FolderSource, id: string): Promise<string[]> {
  return value(await source.versions(id));
}

/** The catalog entry of the first leaf of an id. */
async function entry(source: FolderSource, id: string): Promise<Json> {
  const item = value(await source.registration(id))[0]?.item;
  assert.ok(item);
  return item['catalogEntry'] as Json;
}

async function searchIds(source: FolderSource, q: Record<string, string>, extra: Record<string, string> = {}): Promise<unknown[]> {
  return value(await source.search(parseSearchParams(q), extra)).data.map((d) => d['id']);
}

async function nupkgBytes(source: FolderSource, id: string, version: string): Promise<Buffer | undefined> {
  const blob = await source.file(id, version, 'nupkg');
  if (blob === undefined) return undefined;
  assert.equal(blob.body.kind, 'file');
  if (blob.body.kind !== 'file') return undefined;
  try {
    return await blob.body.handle.readFile();
  } finally {
    await blob.body.handle.close();
  }
}

/** Writes the package where the publish routes would have spooled it. */
async function spooled(bytes: Buffer, name = `${Math.random().toString(36).slice(2)}.tmp`): Promise<string> {
  const path = join(spool, name);
  await writeFile(path, bytes);
  return path;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

before(async () => {
  spool = await mkdtemp(join(tmpdir(), 'nugate-spool-'));
});

after(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await rm(spool, { recursive: true, force: true });
});

describe('folder publisher', () => {
  let source: FolderSource;
  const LIB = nupkg('Contoso.Lib', '1.0.0-Beta');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nugate-hosted-'));
    await mkdir(join(root, 'drop'));
    await writeFile(join(root, 'drop', 'Loose.Pkg.1.0.0.nupkg'), nupkg('Loose.Pkg', '1.0.0'));
    source = await open(root);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('takes package pushes, and no symbols', async () => {
    assert.equal((await source.capabilities()).publish, true);
    assert.equal((await source.capabilities()).symbols, false);
    assert.deepEqual(await source.publishTarget('package'), { kind: 'folder' });
    assert.equal(await source.publishTarget('symbols'), undefined);
  });

  it('stores a push in the global-packages layout with a correct .sha512, nothing else left behind, visible at once', async () => {
    const path = await spooled(LIB);
    assert.equal(await source.publisher.push(path, { id: 'Contoso.Lib', version: '1.0.0-Beta' }), 'created');
    const file = join(root, 'contoso.lib', '1.0.0-beta', 'contoso.lib.1.0.0-beta.nupkg');
    assert.ok((await readFile(file)).equals(LIB));
    assert.equal(await readFile(`${file}.sha512`, 'utf8'), sha512(LIB));
    // Besides the package and its hash, only the change stamp other processes watch (.nugate-changed).
    assert.deepEqual(await filesUnder(root), [
      '.nugate-changed',
      'contoso.lib/1.0.0-beta/contoso.lib.1.0.0-beta.nupkg',
      'contoso.lib/1.0.0-beta/contoso.lib.1.0.0-beta.nupkg.sha512',
      'drop/Loose.Pkg.1.0.0.nupkg',
    ], 'no temp file stays in the folder');
    assert.ok((await readFile(path)).equals(LIB), 'the spooled file is the caller\'s to remove');

    // No waiting for the periodic rescan.
    assert.deepEqual(await versions(source, 'contoso.lib'), ['1.0.0-beta']);
    assert.ok((await nupkgBytes(source, 'contoso.lib', '1.0.0-beta'))?.equals(LIB));
    assert.equal((await entry(source, 'contoso.lib'))['packageHash'], sha512(LIB));
  });

  it('answers exists for the same id+version in any case or version form, and never replaces the file', async () => {
    const other = nupkg('CONTOSO.LIB', '1.0.0.0-BETA', 'a different package with the same identity');
    assert.equal(await source.publisher.push(await spooled(other), { id: 'CONTOSO.LIB', version: '1.0.0.0-BETA' }), 'exists');
    assert.ok((await readFile(join(root, 'contoso.lib', '1.0.0-beta', 'contoso.lib.1.0.0-beta.nupkg'))).equals(LIB));
    // A loose file counts too, wherever it lies in the folder.
    assert.equal(await source.publisher.push(await spooled(nupkg('loose.pkg', '1.0')), { id: 'loose.pkg', version: '1.0' }), 'exists');
    assert.ok(!(await filesUnder(root)).some((f) => f.startsWith('loose.pkg/')));
  });

  it('unlist keeps the file and the flat entry, shows listed: false, hides it from search; relist undoes it', async () => {
    assert.equal(await source.publisher.unlist('contoso.LIB', '1.0.0-beta'), true);
    const file = join(root, 'contoso.lib', '1.0.0-beta', 'contoso.lib.1.0.0-beta.nupkg');
    assert.ok((await readFile(file)).equals(LIB), 'an unlist never touches the package');
    await stat(`${file}${UNLISTED_SUFFIX}`);

    const unlisted = await entry(source, 'contoso.lib');
    assert.equal(unlisted['listed'], false);
    assert.equal(unlisted['published'], '1900-01-01T00:00:00+00:00', 'nuget.org\'s unlisted date');
    assert.deepEqual(await versions(source, 'contoso.lib'), ['1.0.0-beta'], 'the flat container keeps unlisted versions');
    assert.ok((await nupkgBytes(source, 'contoso.lib', '1.0.0-beta'))?.equals(LIB), 'restore of the exact version still works');
    assert.deepEqual(await searchIds(source, { q: 'hostedfeed', prerelease: 'true' }), ['Loose.Pkg']);
    assert.deepEqual((await searchIds(source, { q: 'hostedfeed', prerelease: 'true' }, { includeDelisted: 'true' })).sort(), ['Contoso.Lib', 'Loose.Pkg']);
    assert.deepEqual(value(await source.autocomplete(parseSearchParams({ q: 'contoso', prerelease: 'true' }))), { totalHits: 0, data: [] });
    assert.deepEqual(value(await source.autocompleteVersions('contoso.lib', parseSearchParams({ prerelease: 'true' }))), []);

    // Unlisting twice is fine, as on nuget.org.
    assert.equal(await source.publisher.unlist('Contoso.Lib', '1.0.0-beta'), true);

    assert.equal(await source.publisher.relist('Contoso.Lib', '1.0.0.0-Beta'), true);
    await assert.rejects(stat(`${file}${UNLISTED_SUFFIX}`), { code: 'ENOENT' });
    assert.equal((await entry(source, 'contoso.lib'))['listed'], true);
    assert.deepEqual((await searchIds(source, { q: 'hostedfeed', prerelease: 'true' })).sort(), ['Contoso.Lib', 'Loose.Pkg']);
  });

  it('unlists a loose file with a marker beside it', async () => {
    assert.equal(await source.publisher.unlist('Loose.Pkg', '1.0.0'), true);
    await stat(join(root, 'drop', `Loose.Pkg.1.0.0.nupkg${UNLISTED_SUFFIX}`));
    assert.equal((await entry(source, 'loose.pkg'))['listed'], false);
    assert.equal(await source.publisher.relist('Loose.Pkg', '1.0.0'), true);
    assert.equal((await entry(source, 'loose.pkg'))['listed'], true);
  });

  it('answers false for an unknown id or version, and writes nothing', async () => {
    const before = await filesUnder(root);
    assert.equal(await source.publisher.unlist('No.Such.Package', '1.0.0'), false);
    assert.equal(await source.publisher.unlist('Contoso.Lib', '9.9.9'), false);
    assert.equal(await source.publisher.relist('Contoso.Lib', '9.9.9'), false);
    assert.equal(await source.publisher.relist('../etc', '1.0.0'), false);
    assert.deepEqual(await filesUnder(root), before);
  });

  it('a marker left by a removed package does not unlist a new push of that id+version', async () => {
    const dir = join(root, 'contoso.revived', '1.0.0');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `contoso.revived.1.0.0.nupkg${UNLISTED_SUFFIX}`), 'stale');
    const bytes = nupkg('Contoso.Revived', '1.0.0');
    assert.equal(await source.publisher.push(await spooled(bytes), { id: 'Contoso.Revived', version: '1.0.0' }), 'created');
    assert.equal((await entry(source, 'contoso.revived'))['listed'], true);
  });
});

describe('folder publisher, concurrency and failures', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nugate-hosted-race-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('concurrent pushes of one id+version: exactly one created, one file, its own .sha512', async () => {
    const source = await open(dir);
    const candidates = Array.from({ length: 8 }, (_, i) => nupkg('Race.Pkg', '2.0.0', `contender ${i}`));
    const paths = await Promise.all(candidates.map((b) => spooled(b)));
    const results = await Promise.all(paths.map((p) => source.publisher.push(p, { id: 'Race.Pkg', version: '2.0.0' })));
    assert.deepEqual(results.filter((r) => r === 'created').length, 1, results.join(', '));
    const stored = await readFile(join(dir, 'race.pkg', '2.0.0', 'race.pkg.2.0.0.nupkg'));
    assert.ok(candidates.some((c) => c.equals(stored)));
    assert.equal(await readFile(join(dir, 'race.pkg', '2.0.0', 'race.pkg.2.0.0.nupkg.sha512'), 'utf8'), sha512(stored));
    assert.deepEqual(await readdir(join(dir, 'race.pkg', '2.0.0')), ['race.pkg.2.0.0.nupkg', 'race.pkg.2.0.0.nupkg.sha512']);
  });

  it('two sources on one folder (two nugate processes) still store exactly one file', async () => {
    const a = await open(dir);
    const b = await open(dir);
    const one = nupkg('Shared.Pkg', '1.0.0', 'from a');
    const two = nupkg('Shared.Pkg', '1.0.0', 'from b');
    const results = await Promise.all([
      a.publisher.push(await spooled(one), { id: 'Shared.Pkg', version: '1.0.0' }),
      b.publisher.push(await spooled(two), { id: 'Shared.Pkg', version: '1.0.0' }),
    ]);
    assert.deepEqual([...results].sort(), ['created', 'exists']);
    const stored = await readFile(join(dir, 'shared.pkg', '1.0.0', 'shared.pkg.1.0.0.nupkg'));
    assert.ok(stored.equals(results[0] === 'created' ? one : two), 'the winner\'s bytes');
    assert.deepEqual(await readdir(join(dir, 'shared.pkg', '1.0.0')), ['shared.pkg.1.0.0.nupkg', 'shared.pkg.1.0.0.nupkg.sha512']);
  });

  it('a folder it cannot write to: a 500 NugateError with a short reason and no path, nothing half-written', async () => {
    const source = await open(dir);
    // Works as root too: a file where the id's directory should be.
    await writeFile(join(dir, 'blocked.pkg'), 'not a directory');
    const err = await source.publisher.push(await spooled(nupkg('Blocked.Pkg', '1.0.0')), { id: 'Blocked.Pkg', version: '1.0.0' }).then(
      () => assert.fail('the push succeeded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NugateError);
    assert.equal(err.status, 500);
    assert.match(err.message, /^Folder upstream "hosted" could not be written \(ENOTDIR\)$/);
    assert.ok(!err.message.includes(dir));
    assert.equal(await readFile(join(dir, 'blocked.pkg'), 'utf8'), 'not a directory');

    // A copy that fails half-way leaves neither a temp file nor the version directory behind.
    await assert.rejects(source.publisher.push(join(spool, 'vanished.tmp'), { id: 'Vanished.Pkg', version: '1.0.0' }), (e: unknown) => e instanceof NugateError && e.status === 500);
    assert.deepEqual(await readdir(join(dir, 'vanished.pkg')), []);
  });

  it('never writes through a link that leaves the folder', async () => {
    const source = await open(dir);
    const outside = await mkdtemp(join(tmpdir(), 'nugate-outside-'));
    try {
      await symlink(outside, join(dir, 'evil.pkg'));
      await assert.rejects(source.publisher.push(await spooled(nupkg('Evil.Pkg', '1.0.0')), { id: 'Evil.Pkg', version: '1.0.0' }), (e: unknown) => e instanceof NugateError && e.status === 500);
      assert.deepEqual(await readdir(outside), []);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});
