/**
 * protocol.md §5 item 66: a real `dotnet restore` of a project with a deep transitive closure succeeds with nugate
 * as the only source, gets byte-identical signed packages, and never learns the upstream's address.
 *
 * Topology: static feed (upstream, loopback) ← nugate (child process) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FORBIDDEN_NUGET_CODES,
  describeResult,
  makeIsolatedDotnet,
  nugetCodes,
  requestedUrls,
  verifySignatures,
  type IsolatedDotnet,
} from '../helpers/dotnet.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { findPackage, loadPackages } from '../helpers/packages.ts';
import { startStaticFeed, type StaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();
const REFS = [
  { id: 'xunit', version: '2.9.3' },
  { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
];
/** The closure that must land in NUGET_PACKAGES for net10.0 (System.* 8.0.0 are pruned by the .NET 10 SDK). */
const EXPECTED_CLOSURE = [
  'xunit', 'xunit.core', 'xunit.assert', 'xunit.analyzers', 'xunit.extensibility.core', 'xunit.extensibility.execution',
  'xunit.abstractions', 'Microsoft.NET.Test.Sdk', 'Microsoft.TestPlatform.TestHost', 'Microsoft.TestPlatform.ObjectModel',
  'Microsoft.CodeCoverage', 'Newtonsoft.Json',
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

async function restoreThroughNugate(
  t: { after: (fn: () => unknown) => void },
  feed: StaticFeed,
  nugate: NugateProcess,
): Promise<{ dotnet: IsolatedDotnet; output: string }> {
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('Tests', REFS);
  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n']);
  const context = `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);

  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context}`);
  // The same restore straight against the static feed gives exactly NU1603 (xunit.analyzers 1.18.0 → 1.26.0).
  assert.deepEqual(codes, ['NU1603'], context);

  const urls = requestedUrls(r);
  assert.ok(urls.length > 0, `no HTTP log lines in the restore output\n${context}`);
  for (const u of urls) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
  assert.ok(!`${r.stdout}${r.stderr}`.includes(feed.url), `the upstream address ${feed.url} leaked into the client's output`);
  return { dotnet, output: `${r.stdout}${r.stderr}` };
}

test('dotnet restore of xunit + Microsoft.NET.Test.Sdk through nugate only', { timeout: 300_000 }, async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }]) });
  t.after(() => nugate.stop());

  const { dotnet } = await restoreThroughNugate(t, feed, nugate);

  // Every restored package is byte-identical to the signed original (sha512 as NuGet recorded it, and re-hashed).
  const restored = await loadPackages(dotnet.packagesDir, { verifyHashes: true });
  const ids = restored.map((p) => p.id);
  for (const id of EXPECTED_CLOSURE) assert.ok(ids.includes(id), `${id} missing from NUGET_PACKAGES (got ${ids.join(', ')})`);
  for (const p of restored) {
    assert.equal(p.sha512, findPackage(store, p.id, p.version).sha512, `${p.id} ${p.version} differs from the upstream package`);
    const meta = JSON.parse(await readFile(join(dotnet.packagesDir, p.lowerId, p.lowerVersion, '.nupkg.metadata'), 'utf8')) as { source?: unknown };
    assert.equal(meta.source, nugate.indexUrl, `${p.id} was installed from ${String(meta.source)}`);
  }

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
  assert.equal(
    feed.count((r) => r.url.startsWith('/v3-flatcontainer/') && r.url.endsWith('.nupkg') && r.method === 'GET'),
    restored.length,
    'each nupkg is fetched from the upstream exactly once',
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
