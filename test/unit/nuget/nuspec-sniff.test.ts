/**
 * The nuspec of a package while it downloads (src/nuget/nuspec-sniff.ts): found in the first bytes of real signed
 * packages whatever the chunking, and given up on, cheaply and within its bounds, for anything else.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import { sniffNuspec } from '../../../src/nuget/nuspec-sniff.ts';
import { readManifestFromBuffer } from '../../../src/nuget/nupkg.ts';

const PACKAGES = '/opt/nuget/packages';

/** Feeds `bytes` in chunks of `size`; returns what was found and how many bytes had been fed when it was. */
async function sniff(bytes: Uint8Array, size: number): Promise<{ xml: Buffer | undefined; fedWhenFound: number }> {
  const s = sniffNuspec();
  let fed = 0;
  let fedWhenFound = -1;
  void s.nuspec.then(() => (fedWhenFound = fed));
  for (let at = 0; at < bytes.length; at += size) {
    s.push(bytes.subarray(at, at + size));
    fed = Math.min(bytes.length, at + size);
    await Promise.resolve();
  }
  s.end();
  return { xml: await s.nuspec, fedWhenFound };
}

test('finds the nuspec of every real package in its first 64 KB, the same bytes the verified package holds', async () => {
  const files: string[] = [];
  for (const id of await readdir(PACKAGES)) for (const v of await readdir(join(PACKAGES, id))) files.push(join(PACKAGES, id, v, `${id}.${v}.nupkg`));
  assert.ok(files.length >= 16, `the machine's packages (${PACKAGES}) are there: ${files.length}`);
  for (const file of files) {
    const bytes = await readFile(file);
    const { xml, fedWhenFound } = await sniff(bytes, 16 * 1024);
    assert.ok(xml !== undefined, `${file}: nuspec found`);
    assert.ok(xml.equals(readManifestFromBuffer(bytes).xml), `${file}: the manifest itself`);
    assert.ok(fedWhenFound <= 64 * 1024, `${file}: found after ${fedWhenFound} of ${bytes.length} bytes`);
  }
});

test('any chunking works, down to a byte at a time', async () => {
  const bytes = await readFile(join(PACKAGES, 'xunit.core/2.9.3/xunit.core.2.9.3.nupkg'));
  const { xml } = await sniff(bytes.subarray(0, 8 * 1024), 1);
  assert.match(xml?.toString('utf8') ?? '', /<id>xunit.core<\/id>/);
});

test('gives up on what is not a zip, on a nuspec past the first MB, and on a deflate bomb', async () => {
  assert.equal((await sniff(Buffer.from('<html>Sign in</html>'.repeat(100)), 1024)).xml, undefined);

  // A nuspec placed after 2 MB of other entries: not looked for.
  const late = zipSync({ 'a.bin': new Uint8Array(2 * 1024 * 1024).fill(7), 'Late.nuspec': strToU8('<package/>') }, { level: 0 });
  assert.equal((await sniff(late, 64 * 1024)).xml, undefined);

  // A 200 MB run of one byte deflates to ~200 KB: refused once 4 MB are inflated, never held whole.
  const bomb = zipSync({ 'Bomb.nuspec': new Uint8Array(200 * 1024 * 1024) }, { level: 9 });
  assert.ok(bomb.length < 1024 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  assert.equal((await sniff(bomb, 64 * 1024)).xml, undefined);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'the bomb was not inflated');
});
