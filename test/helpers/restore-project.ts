/**
 * The deep-closure restore the end-to-end tests share: xunit 2.9.3 + Microsoft.NET.Test.Sdk 18.0.1 restored by a
 * brand-new isolated client whose only source is nugate, and the checks every such restore must pass.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls, type IsolatedDotnet } from './dotnet.ts';
import { findPackage, loadPackages, type LocalPackage } from './packages.ts';

export const DEEP_REFS = [
  { id: 'xunit', version: '2.9.3' },
  { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
];

/** The closure that must land in NUGET_PACKAGES for net10.0 (System.* 8.0.0 are pruned by the .NET 10 SDK). */
export const EXPECTED_CLOSURE = [
  'xunit', 'xunit.core', 'xunit.assert', 'xunit.analyzers', 'xunit.extensibility.core', 'xunit.extensibility.execution',
  'xunit.abstractions', 'Microsoft.NET.Test.Sdk', 'Microsoft.TestPlatform.TestHost', 'Microsoft.TestPlatform.ObjectModel',
  'Microsoft.CodeCoverage', 'Newtonsoft.Json',
];

export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

export interface NugateEndpoint {
  indexUrl: string;
  baseUrl: string;
  logs(): string;
}

/**
 * Restores DEEP_REFS through nugate alone and asserts: exit 0; exactly NU1603, the warning the same restore gives
 * straight against the upstream (xunit.analyzers 1.18.0 → 1.26.0); every URL the client fetched is nugate's; none
 * of `mustNotAppear` (upstream addresses) in the client's output.
 */
export async function restoreDeep(
  t: { after: (fn: () => unknown) => void },
  nugate: NugateEndpoint,
  opts: { label?: string; mustNotAppear?: string[]; timeoutMs?: number } = {},
): Promise<{ dotnet: IsolatedDotnet; output: string }> {
  const tag = opts.label ? `[${opts.label}] ` : '';
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('Tests', DEEP_REFS);
  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
  const context = `${tag}${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${tag}${c} in restore output\n${context}`);
  assert.deepEqual(codes, ['NU1603'], context);
  const urls = requestedUrls(r);
  assert.ok(urls.length > 0, `${tag}no HTTP log lines in the restore output\n${context}`);
  for (const u of urls) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `${tag}the client fetched ${u}, which is not nugate`);
  const output = `${r.stdout}${r.stderr}`;
  for (const s of opts.mustNotAppear ?? []) assert.ok(!output.includes(s), `${tag}${s} leaked into the client's output\n${context}`);
  return { dotnet, output };
}

/**
 * Every package the client restored is byte-identical to the original (sha512 as NuGet recorded it, and
 * re-hashed), the whole closure is there, and (when `source` is given) NuGet recorded nugate as its source.
 */
export async function assertRestoredLikeStore(dotnet: IsolatedDotnet, store: readonly LocalPackage[], opts: { source?: string; label?: string } = {}): Promise<LocalPackage[]> {
  const tag = opts.label ? `[${opts.label}] ` : '';
  const restored = await loadPackages(dotnet.packagesDir, { verifyHashes: true });
  const ids = restored.map((p) => p.id);
  for (const id of EXPECTED_CLOSURE) assert.ok(ids.includes(id), `${tag}${id} missing from NUGET_PACKAGES (got ${ids.join(', ')})`);
  for (const p of restored) {
    assert.equal(p.sha512, findPackage(store, p.id, p.version).sha512, `${tag}${p.id} ${p.version} differs from the original package`);
    if (opts.source === undefined) continue;
    const meta = JSON.parse(await readFile(join(dotnet.packagesDir, p.lowerId, p.lowerVersion, '.nupkg.metadata'), 'utf8')) as { source?: unknown };
    assert.equal(meta.source, opts.source, `${tag}${p.id} was installed from ${String(meta.source)}`);
  }
  return restored;
}
