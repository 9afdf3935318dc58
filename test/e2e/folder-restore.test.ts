/**
 * A real `dotnet restore` through nugate whose only upstream is a folder of packages: the machine's
 * global-packages folder, `file:///opt/nuget/packages` (hierarchical layout, signed packages with .sha512 files).
 * The restore succeeds, gets byte-identical packages, and the client never sees the folder's synthetic URLs.
 *
 * Topology: /opt/nuget/packages ← nugate (child process, folder upstream) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls, verifySignatures } from '../helpers/dotnet.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { DEFAULT_PACKAGES_ROOT, findPackage, loadPackages } from '../helpers/packages.ts';

const SYNTHETIC_HOST = 'folder.nugate.invalid';
const REFS = [
  { id: 'xunit', version: '2.9.3' },
  { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
];
/** The closure that must land in NUGET_PACKAGES for net10.0 (as in restore.test.ts). */
const EXPECTED_CLOSURE = [
  'xunit', 'xunit.core', 'xunit.assert', 'xunit.analyzers', 'xunit.extensibility.core', 'xunit.extensibility.execution',
  'xunit.abstractions', 'Microsoft.NET.Test.Sdk', 'Microsoft.TestPlatform.TestHost', 'Microsoft.TestPlatform.ObjectModel',
  'Microsoft.CodeCoverage', 'Newtonsoft.Json',
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test('dotnet restore through nugate whose only upstream is a folder of packages', { timeout: 300_000 }, async (t) => {
  const store = await loadPackages();
  const folderUrl = pathToFileURL(DEFAULT_PACKAGES_ROOT).href;
  const nugate = await startNugate({ config: nugateConfigFor([{ name: 'folder', url: folderUrl }]) });
  t.after(() => nugate.stop());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());

  const project = await dotnet.writeProject('Tests', REFS);
  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n']);
  const context = `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);

  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context}`);
  // As against the HTTP static feed: exactly NU1603 (xunit.analyzers 1.18.0 → 1.26.0, the only version in the folder).
  assert.deepEqual(codes, ['NU1603'], context);

  const urls = requestedUrls(r);
  assert.ok(urls.length > 0, `no HTTP log lines in the restore output\n${context}`);
  for (const u of urls) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
  const output = `${r.stdout}${r.stderr}`;
  assert.ok(!output.includes(SYNTHETIC_HOST), `the folder's synthetic host leaked into the client's output\n${context}`);

  // Every restored package is byte-identical to the file in the folder (sha512 as NuGet recorded it, and re-hashed).
  const restored = await loadPackages(dotnet.packagesDir, { verifyHashes: true });
  const ids = restored.map((p) => p.id);
  for (const id of EXPECTED_CLOSURE) assert.ok(ids.includes(id), `${id} missing from NUGET_PACKAGES (got ${ids.join(', ')})`);
  for (const p of restored) {
    assert.equal(p.sha512, findPackage(store, p.id, p.version).sha512, `${p.id} ${p.version} differs from the package in the folder`);
    const meta = JSON.parse(await readFile(join(dotnet.packagesDir, p.lowerId, p.lowerVersion, '.nupkg.metadata'), 'utf8')) as { source?: unknown };
    assert.equal(meta.source, nugate.indexUrl, `${p.id} was installed from ${String(meta.source)}`);
  }

  t.diagnostic(`${restored.length} packages restored through ${urls.length} logged HTTP requests`);

  // Nothing the client cached or wrote names the folder's synthetic URLs.
  const assets = await readFile(join(dotnet.dir, 'Tests', 'obj', 'project.assets.json'), 'utf8');
  assert.ok(!assets.includes(SYNTHETIC_HOST), 'the synthetic host leaked into project.assets.json');
  for (const file of await filesUnder(dotnet.httpCacheDir)) {
    const body = await readFile(file, 'utf8');
    assert.ok(!body.includes(SYNTHETIC_HOST), `nugate leaked ${SYNTHETIC_HOST} in a response the client cached: ${file}\n${body.slice(0, 500)}`);
  }

  // Signatures survive the folder and the proxy.
  const verify = await verifySignatures(join(dotnet.packagesDir, 'xunit', '2.9.3', 'xunit.2.9.3.nupkg'));
  assert.equal(verify.code, 0, describeResult(verify));
  assert.match(verify.stdout, /Successfully verified package 'xunit\.2\.9\.3'/);
});
