/**
 * protocol.md §5 item 66: a real `dotnet restore` of a project with a deep transitive closure succeeds with nugate
 * as the only source, gets byte-identical signed packages, and never learns the upstream's address.
 *
 * Topology: static feed (upstream, loopback) ← nugate (child process) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeResult, verifySignatures, type IsolatedDotnet } from '../helpers/dotnet.ts';
import { EXPECTED_CLOSURE, assertRestoredLikeStore, filesUnder, restoreDeep } from '../helpers/restore-project.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { findPackage, loadPackages } from '../helpers/packages.ts';
import { startStaticFeed, type StaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();
async function restoreThroughNugate(
  t: { after: (fn: () => unknown) => void },
  feed: StaticFeed,
  nugate: NugateProcess,
): Promise<{ dotnet: IsolatedDotnet; output: string }> {
  return restoreDeep(t, nugate, { mustNotAppear: [feed.url] });
}

test('dotnet restore of xunit + Microsoft.NET.Test.Sdk through nugate only', { timeout: 300_000 }, async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());

  const { dotnet } = await restoreThroughNugate(t, feed, nugate);

  // Every restored package is byte-identical to the signed original, installed from nugate.
  const restored = await assertRestoredLikeStore(dotnet, store, { source: nugate.indexUrl });

  // The assets file lists exactly the restored packages and nothing of the upstream. (Its sha512 is NuGet's
  // *content* hash, which for signed packages excludes the signature, so it is not the .nupkg.sha512 value.)
  const assets = await readFile(join(dotnet.dir, 'Tests', 'obj', 'project.assets.json'), 'utf8');
  const libraries = (JSON.parse(assets) as { libraries: Record<string, { type: string }> }).libraries;
  const assetPackages = Object.entries(libraries).filter(([, lib]) => lib.type === 'package').map(([key]) => key.toLowerCase()).sort();
  assert.deepEqual(assetPackages, restored.map((p) => `${p.lowerId}/${p.lowerVersion}`).sort());
  assert.ok(!assets.includes(feed.url), 'the upstream address leaked into project.assets.json');

  // What the client cached is what nugate sent: no body may carry the upstream's address (rewriting is complete).
  for (const file of await filesUnder(dotnet.httpCacheDir)) {
    const body = await readFile(file, 'utf8');
    assert.ok(!body.includes(feed.url), `nugate leaked ${feed.url} in a response the client cached: ${file}\n${body.slice(0, 500)}`);
  }

  // Signatures survive the proxy.
  const verify = await verifySignatures(join(dotnet.packagesDir, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
  assert.equal(verify.code, 0, describeResult(verify));
  assert.match(verify.stdout, /Successfully verified package 'xunit\.2\.9\.3'/);
  const verifySdk = await verifySignatures(join(dotnet.packagesDir, 'microsoft.net.test.sdk', '18.0.1', 'microsoft.net.test.sdk.18.0.1.nupkg'));
  assert.equal(verifySdk.code, 0, describeResult(verifySdk));

  // nugate fetched from the upstream; the client never did: its only source was nugate (requestedUrls above), and
  // nothing that reached the upstream identifies as a NuGet client (nugate sends its own User-Agent on reads).
  assert.ok(feed.count('/v3/index.json') >= 1, 'nugate never read the upstream service index');
  const clientish = feed.requests.filter((x) => /^NuGet /.test(String(x.headers['user-agent'] ?? '')));
  assert.deepEqual(clientish.map((x) => x.url), [], 'requests with a NuGet client User-Agent reached the upstream directly');
  for (const id of EXPECTED_CLOSURE) {
    const lower = id.toLowerCase();
    assert.ok(feed.count(`/${lower}/`) >= 1, `the upstream never saw a request for ${id}`);
  }
  // Each package once (concurrent requests and warming share one download). Warming may also have fetched a
  // dependency the client then did not need (a framework-provided one it pruned, a lower bound that does not exist):
  // never twice either.
  const nupkgGets = feed.requests.filter((r) => r.url.startsWith('/v3-flatcontainer/') && r.url.endsWith('.nupkg') && r.method === 'GET').map((r) => r.url);
  assert.deepEqual(
    nupkgGets.filter((url, i) => nupkgGets.indexOf(url) !== i),
    [],
    'no nupkg is fetched from the upstream twice',
  );
  assert.equal(
    restored.filter((p) => nupkgGets.some((url) => url.includes(`/${p.lowerId}/${p.lowerVersion}/`))).length,
    restored.length,
    'every restored package came from the upstream through nugate',
  );
});

test('a second client restores the same closure from nugate without new upstream downloads', { timeout: 300_000 }, async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());

  await restoreThroughNugate(t, feed, nugate);
  const nupkgFetches = (): number => feed.count((r) => r.url.endsWith('.nupkg'));
  const before = nupkgFetches();
  assert.ok(before > 0);

  // Fresh NUGET_PACKAGES and http-cache: every package must come over HTTP again, from nugate's cache.
  const { dotnet } = await restoreThroughNugate(t, feed, nugate);
  assert.equal(nupkgFetches(), before, 'nugate went back to the upstream for packages it already had (protocol.md §5 item 73)');
  const restored = await loadPackages(dotnet.packagesDir, { verifyHashes: true });
  for (const p of restored) assert.equal(p.sha512, findPackage(store, p.id, p.version).sha512);
});
