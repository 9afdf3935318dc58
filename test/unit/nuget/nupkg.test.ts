import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strToU8, unzipSync, zipSync } from 'fflate';
import type { Zippable } from 'fflate';
import { MAX_NUSPEC_BYTES, readEntryFromFile, readManifestFromBuffer, readManifestFromFile } from '../../../src/nuget/nupkg.ts';
import { InvalidPackageError } from '../../../src/nuget/nuspec.ts';

// The global packages folder layout: <lowerid>/<version>/<lowerid>.<version>.nupkg plus the extracted <lowerid>.nuspec.
const PACKAGES = '/opt/nuget/packages';
const nupkgPath = (id: string, version: string): string => join(PACKAGES, id, version, `${id}.${version}.nupkg`);
const NEWTONSOFT = nupkgPath('newtonsoft.json', '13.0.3');
const XUNIT_CORE = nupkgPath('xunit.core', '2.9.3');

const MINIMAL_NUSPEC = '<package><metadata><id>Tiny</id><version>1.0.0</version></metadata></package>';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nugate-nupkg-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeTemp(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** A zip from a name -> content map, written to a temp file; returns both forms. */
async function makeZip(name: string, files: Record<string, string | Uint8Array>): Promise<{ path: string; bytes: Uint8Array }> {
  const zippable: Zippable = {};
  for (const [entry, content] of Object.entries(files)) zippable[entry] = typeof content === 'string' ? strToU8(content) : content;
  const bytes = zipSync(zippable);
  return { path: await writeTemp(name, bytes), bytes };
}

/** Both readers must reject the same bytes with InvalidPackageError and a matching message. */
async function assertBothReject(path: string, bytes: Uint8Array, message: RegExp): Promise<void> {
  const check = (err: unknown): boolean => {
    assert.ok(err instanceof InvalidPackageError, `expected InvalidPackageError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_PACKAGE');
    assert.match(err.message, message);
    return true;
  };
  await assert.rejects(readManifestFromFile(path), check);
  assert.throws(() => readManifestFromBuffer(bytes), check);
}

async function installedPackages(): Promise<Array<{ id: string; version: string }>> {
  const found: Array<{ id: string; version: string }> = [];
  for (const id of await readdir(PACKAGES)) {
    for (const version of await readdir(join(PACKAGES, id))) found.push({ id, version });
  }
  return found;
}

describe('readManifestFromFile / readManifestFromBuffer on real signed packages', () => {
  it('reads Newtonsoft.Json 13.0.3', async () => {
    const manifest = await readManifestFromFile(NEWTONSOFT);
    assert.equal(manifest.nuspec.id, 'Newtonsoft.Json');
    assert.equal(manifest.nuspec.version, '13.0.3');
    assert.equal(manifest.nuspec.licenseExpression, 'MIT');
    assert.equal(manifest.nuspec.icon, 'packageIcon.png');
    assert.ok(manifest.nuspec.dependencyGroups.some((g) => g.targetFramework === 'net6.0'));
  });

  it('reads xunit.core 2.9.3 and its flat dependency list', async () => {
    const manifest = await readManifestFromFile(XUNIT_CORE);
    assert.equal(manifest.nuspec.id, 'xunit.core');
    assert.equal(manifest.nuspec.version, '2.9.3');
    assert.deepEqual(manifest.nuspec.dependencyGroups, [
      {
        dependencies: [
          { id: 'xunit.extensibility.core', range: '[2.9.3]' },
          { id: 'xunit.extensibility.execution', range: '[2.9.3]' },
        ],
      },
    ]);
  });

  it('agrees between the file and buffer readers, and with the extracted nuspec, for every installed package', async () => {
    const packages = await installedPackages();
    assert.ok(packages.length >= 2, 'expected the test packages under /opt/nuget/packages');
    for (const { id, version } of packages) {
      const path = nupkgPath(id, version);
      const fromFile = await readManifestFromFile(path);
      const fromBuffer = readManifestFromBuffer(await readFile(path));
      assert.deepEqual(fromBuffer, fromFile, `${id} ${version}`);
      assert.equal(fromFile.nuspec.id.toLowerCase(), id);
      assert.equal(fromFile.nuspec.version.toLowerCase(), version);
      // NuGet extracts the nuspec byte for byte next to the package.
      assert.ok(fromFile.xml.equals(await readFile(join(PACKAGES, id, version, `${id}.nuspec`))), `${id} nuspec bytes`);
    }
  });
});

describe('invalid packages', () => {
  it('rejects a truncated copy (first half of the file)', async () => {
    for (const source of [NEWTONSOFT, XUNIT_CORE]) {
      const whole = await readFile(source);
      const half = whole.subarray(0, Math.floor(whole.length / 2));
      const path = await writeTemp(`half-${whole.length}.nupkg`, half);
      await assertBothReject(path, half, /zip/);
    }
  });

  it('rejects a file that is not a zip', async () => {
    const bytes = strToU8('<html><body>Sign in to continue</body></html>');
    const path = await writeTemp('login.html.nupkg', bytes);
    await assertBothReject(path, bytes, /zip/);
  });

  it('rejects an empty file', async () => {
    const bytes = new Uint8Array(0);
    await assertBothReject(await writeTemp('empty.nupkg', bytes), bytes, /zip/);
  });

  it('rejects a zip without a root nuspec (one in a subfolder does not count)', async () => {
    const { path, bytes } = await makeZip('nested.nupkg', { 'content/Tiny.nuspec': MINIMAL_NUSPEC, 'lib/a.dll': 'x' });
    await assertBothReject(path, bytes, /no \.nuspec/);
  });

  it('rejects two root nuspecs', async () => {
    const { path, bytes } = await makeZip('two.nupkg', { 'Tiny.nuspec': MINIMAL_NUSPEC, 'Other.NUSPEC': MINIMAL_NUSPEC });
    await assertBothReject(path, bytes, /more than one \.nuspec/);
  });

  it('rejects a nuspec bigger than 4 MiB', async () => {
    const padding = `<!--${'x'.repeat(MAX_NUSPEC_BYTES)}-->`;
    const { path, bytes } = await makeZip('huge.nupkg', { 'Tiny.nuspec': padding + MINIMAL_NUSPEC });
    await assertBothReject(path, bytes, /limit/);
  });

  it('rejects a package whose nuspec is invalid', async () => {
    const { path, bytes } = await makeZip('noid.nupkg', { 'Bad.nuspec': '<package><metadata><version>1.0</version></metadata></package>' });
    await assertBothReject(path, bytes, /no <id>/);
  });

  it('finds the nuspec case-insensitively by extension in a hand-made package', async () => {
    const { path, bytes } = await makeZip('upper.nupkg', { 'Tiny.NuSpec': MINIMAL_NUSPEC, 'lib/net8.0/Tiny.dll': 'x' });
    assert.equal((await readManifestFromFile(path)).nuspec.id, 'Tiny');
    assert.equal(readManifestFromBuffer(bytes).nuspec.id, 'Tiny');
  });

  it('passes file system errors through instead of blaming the package', async () => {
    await assert.rejects(readManifestFromFile(join(dir, 'missing.nupkg')), (err: unknown) => {
      assert.ok(!(err instanceof InvalidPackageError));
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOENT');
      return true;
    });
  });
});

describe('readEntryFromFile', () => {
  it('reads the embedded icon of Newtonsoft.Json, byte-identical to a full unzip', async () => {
    const icon = await readEntryFromFile(NEWTONSOFT, 'packageIcon.png', 1024 * 1024);
    assert.ok(icon);
    const expected = unzipSync(await readFile(NEWTONSOFT), { filter: (f) => f.name === 'packageIcon.png' })['packageIcon.png'];
    assert.ok(expected);
    assert.ok(icon.equals(expected));
    // PNG signature
    assert.deepEqual([...icon.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it('reads a readme in a subfolder given a nuspec path with backslashes', async () => {
    const manifest = await readManifestFromFile(XUNIT_CORE);
    assert.equal(manifest.nuspec.readme, '_content/README.md');
    const slash = await readEntryFromFile(XUNIT_CORE, '_content/README.md', 1024 * 1024);
    const backslash = await readEntryFromFile(XUNIT_CORE, '_content\\README.md', 1024 * 1024);
    assert.ok(slash && backslash);
    assert.ok(slash.equals(backslash));
    assert.ok(slash.length > 0);
  });

  it('returns undefined for an absent entry', async () => {
    assert.equal(await readEntryFromFile(NEWTONSOFT, 'images/nope.png', 1024), undefined);
    assert.equal(await readEntryFromFile(NEWTONSOFT, '', 1024), undefined);
  });

  it('refuses an entry over maxBytes', async () => {
    await assert.rejects(readEntryFromFile(NEWTONSOFT, 'packageIcon.png', 100), InvalidPackageError);
  });

  it('prefers an exact match and falls back to a case-insensitive one', async () => {
    const { path } = await makeZip('case.nupkg', {
      'Tiny.nuspec': MINIMAL_NUSPEC,
      'images/Icon.png': 'upper',
      'images/icon.png': 'lower',
      'docs/ReadMe.md': 'readme',
      'my%20file.txt': 'escaped',
    });
    assert.equal((await readEntryFromFile(path, 'images/icon.png', 100))?.toString(), 'lower');
    assert.equal((await readEntryFromFile(path, 'images/Icon.png', 100))?.toString(), 'upper');
    assert.equal((await readEntryFromFile(path, 'docs\\README.md', 100))?.toString(), 'readme');
    assert.equal((await readEntryFromFile(path, 'my file.txt', 100))?.toString(), 'escaped');
  });

  it('throws InvalidPackageError for a corrupt package', async () => {
    const half = (await readFile(XUNIT_CORE)).subarray(0, 1000);
    await assert.rejects(readEntryFromFile(await writeTemp('short.nupkg', half), 'x', 10), InvalidPackageError);
  });
});

describe('packages whose central directory is larger than the tail read at once', () => {
  // ~3,000 entries with long names: a central directory of ~400 KB, over the 256 KB held in memory.
  const many = (): Record<string, string> => {
    const files: Record<string, string> = { 'Big.nuspec': '<package><metadata><id>Big</id><version>2.0.0</version></metadata></package>' };
    for (let i = 0; i < 3000; i++) files[`lib/net8.0/${'a-rather-long-folder-name/'.repeat(3)}file-${i}.txt`] = `content ${i}`;
    return files;
  };
  const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

  it('reads the manifest and an entry (read from the file and from the tail alike), leaving no file open', async () => {
    const { path, bytes } = await makeZip('big.nupkg', many());
    assert.ok(bytes.length > 400 * 1024, `${bytes.length} bytes`);
    const fds = await openFds();
    for (let i = 0; i < 5; i++) {
      const m = await readManifestFromFile(path);
      assert.equal(m.nuspec.id, 'Big');
      const last = await readEntryFromFile(path, `lib/net8.0/${'a-rather-long-folder-name/'.repeat(3)}file-2999.txt`, 1024);
      assert.equal(last?.toString(), 'content 2999');
    }
    assert.equal(await openFds(), fds);
  });

  it('rejects a copy with its central directory cut short, leaving no file open', async () => {
    const { bytes } = await makeZip('big-src.nupkg', many());
    // Keep the end record but lose the start of the directory: the directory now begins before the file does.
    const cut = await writeTemp('big-cut.nupkg', Buffer.concat([Buffer.from(bytes.subarray(0, 100)), Buffer.from(bytes.subarray(bytes.length - 300 * 1024))]));
    const fds = await openFds();
    await assert.rejects(readManifestFromFile(cut), InvalidPackageError);
    await assert.rejects(readManifestFromFile(join(dir, 'absent.nupkg')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    assert.equal(await openFds(), fds);
  });
});
