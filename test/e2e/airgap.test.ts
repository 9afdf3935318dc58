/**
 * Air gap end to end (issue 11) with the real dotnet client: a real packages.lock.json and project.assets.json from a
 * restore against the upstream; `nugate prefetch` (the CLI) from each of them, from a .csproj, from a folder with
 * central package management and from a .txt list with a range; --dry-run fetches no package; a second prefetch
 * fetches nothing; a missing package is a non-zero exit that names it; export, import into an empty cache, the
 * upstream replaced by a tripwire, and an --offline nugate serves: a restore with empty client caches (audit reports
 * the vulnerable held version as NU1903, never NU1900/NU1905), `dotnet package search`, `dotnet list package
 * --outdated` and `dotnet add package` without a version, with zero upstream requests.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeResult, makeIsolatedDotnet, nugetCodes, runProcess, type DotnetResult } from '../helpers/dotnet.ts';
import { startAirgapFeed, VULNERABLE } from '../helpers/airgap-feed.ts';
import { REPO_ROOT, startNugate, nugateConfigFor } from '../helpers/nugate-process.ts';

const PROJECT = (refs: string, extra = ''): string => `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <IsPackable>false</IsPackable>
    <NuGetAudit>true</NuGetAudit>
    <NuGetAuditMode>all</NuGetAuditMode>${extra}
  </PropertyGroup>
  <ItemGroup>
${refs}
  </ItemGroup>
</Project>
`;
const REFS = `    <PackageReference Include="xunit" Version="2.9.3" />
    <PackageReference Include="Microsoft.NET.Test.Sdk" Version="18.0.1" />
    <PackageReference Include="${VULNERABLE.id}" Version="${VULNERABLE.version}" />`;

function cli(args: string[]): Promise<DotnetResult> {
  return runProcess(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'test' } as Record<string, string>, timeoutMs: 120_000 });
}

test('prefetch from real restore files, carry a bundle, serve it offline to the real client', { timeout: 180_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'nugate-airgap-e2e-'));
  t.after(() => rm(root, { recursive: true, force: true, maxRetries: 3 }));
  const upstream = await startAirgapFeed();
  t.after(() => upstream.close());
  const upstreamPort = Number(new URL(upstream.feed.url).port);
  const writeConfig = async (name: string): Promise<string> => {
    const path = join(root, `${name}.json`);
    await writeFile(path, JSON.stringify(nugateConfigFor([{ name: 'static', url: upstream.feed.indexUrl }], { cache: { dir: join(root, name) }, log: { level: 'info' } })));
    return path;
  };
  const connected = await writeConfig('connected');
  const prefetch = (...args: string[]): Promise<DotnetResult> => cli(['prefetch', '--config', connected, ...args]);

  // The real client's own files, from a restore straight against the upstream.
  const direct = await makeIsolatedDotnet({ sources: [{ name: 'upstream', url: upstream.feed.indexUrl }] });
  t.after(() => direct.cleanup());
  const app = join(direct.dir, 'App');
  await mkdir(app);
  await writeFile(join(app, 'App.csproj'), PROJECT(REFS, '\n    <RestorePackagesWithLockFile>true</RestorePackagesWithLockFile>'));
  const restored = await direct.run(['restore', app, '--configfile', direct.configFile]);
  assert.equal(restored.code, 0, describeResult(restored));
  const lockFile = join(app, 'packages.lock.json');
  const assetsFile = join(app, 'obj', 'project.assets.json');
  const central = join(root, 'central');
  await mkdir(join(central, 'Lib'), { recursive: true });
  await writeFile(join(central, 'Directory.Packages.props'), `<Project>\n  <PropertyGroup><ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally></PropertyGroup>\n  <ItemGroup>\n    <PackageVersion Include="xunit" Version="2.9.3" />\n  </ItemGroup>\n</Project>\n`);
  await writeFile(join(central, 'Lib', 'Lib.csproj'), PROJECT('    <PackageReference Include="xunit" />'));
  const list = join(root, 'list.txt');
  await writeFile(list, `${VULNERABLE.id}@[1.0.0, 2.0.0)\n${VULNERABLE.id}@${VULNERABLE.fixed}\n`);

  await t.test('prefetch: --dry-run, then the lock file, the assets file, a project, a central-management folder and a list', async () => {
    upstream.feed.resetRequests();
    const dry = await prefetch('--dry-run', lockFile);
    assert.equal(dry.code, 0, describeResult(dry));
    assert.match(dry.stdout, /  Microsoft\.TestPlatform\.TestHost 18\.0\.1\n/);
    assert.equal(upstream.nupkgFetches(), 0, '--dry-run downloaded packages');

    const first = await prefetch('--concurrency', '4', lockFile);
    assert.equal(first.code, 0, describeResult(first));
    assert.match(first.stdout, /prefetch: \d+ packages, \d+ new, 0 already cached/);
    const fetched = upstream.nupkgFetches();
    assert.ok(fetched >= 13, `only ${fetched} packages downloaded`);
    for (const input of [assetsFile, join(app, 'App.csproj'), central, lockFile]) {
      const again = await prefetch(input);
      assert.equal(again.code, 0, describeResult(again));
      assert.match(again.stdout, /prefetch: \d+ packages, 0 new, \d+ already cached, 0 B downloaded, 0 failed/, `${input}\n${again.stdout}`);
    }
    assert.equal(upstream.nupkgFetches(), fetched, 'a second prefetch downloaded packages');
    const ranged = await prefetch(list);
    assert.equal(ranged.code, 0, describeResult(ranged));
    assert.match(ranged.stdout, /prefetch: 2 packages, 1 new, 1 already cached/);
  });

  await t.test('a missing package is a non-zero exit that names it', async () => {
    const missing = join(root, 'missing.txt');
    await writeFile(missing, 'Contoso.NotPublished@1.0.0\n');
    const r = await prefetch(missing);
    assert.equal(r.code, 1, describeResult(r));
    assert.match(r.stderr, /failed: Contoso\.NotPublished 1\.0\.0: no upstream has this package/);
  });

  const bundle = join(root, 'transfer.tar.gz');
  const airgapped = await writeConfig('airgapped');
  await t.test('export, then import into an empty cache', async () => {
    const exported = await cli(['export', '--config', connected, '--out', bundle]);
    assert.equal(exported.code, 0, describeResult(exported));
    const imported = await cli(['import', '--config', airgapped, bundle]);
    assert.equal(imported.code, 0, describeResult(imported));
    assert.match(imported.stdout, /import: .* package files new/);
  });

  await t.test('offline on the imported cache, the upstream gone: restore, audit, search, list --outdated, add package', async (t) => {
    await upstream.close();
    const tripwire: string[] = [];
    const trap = createServer((req, res) => {
      tripwire.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => trap.once('error', reject).listen(upstreamPort, '127.0.0.1', () => resolve()));
    t.after(() => new Promise<void>((resolve) => trap.close(() => resolve())));
    const config = JSON.parse(await readFile(airgapped, 'utf8')) as Record<string, unknown>;
    const nugate = await startNugate({ config, args: ['--offline'] });
    t.after(() => nugate.stop());
    const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
    t.after(() => dotnet.cleanup());
    const project = join(dotnet.dir, 'App');
    await mkdir(project);
    await writeFile(join(project, 'App.csproj'), PROJECT(REFS));
    const context = (r: DotnetResult): string => `${describeResult(r)}\n--- nugate ---\n${nugate.logs().slice(-3000)}`;

    const restore = await dotnet.run(['restore', project, '--configfile', dotnet.configFile]);
    assert.equal(restore.code, 0, context(restore));
    const codes = nugetCodes(restore);
    assert.ok(codes.includes('NU1903'), `audit did not report the vulnerable held version (NU1903): ${codes.join(', ')}\n${context(restore)}`);
    for (const bad of ['NU1900', 'NU1905', 'NU1301']) assert.ok(!codes.includes(bad), `${bad} offline\n${context(restore)}`);

    const search = await dotnet.run(['package', 'search', 'xunit', '--source', nugate.indexUrl, '--configfile', dotnet.configFile]);
    assert.equal(search.code, 0, context(search));
    assert.match(search.stdout, /xunit\.assert/i, context(search));

    const outdated = await dotnet.run(['list', project, 'package', '--outdated', '--source', nugate.indexUrl, '--configfile', dotnet.configFile]);
    assert.equal(outdated.code, 0, context(outdated));
    assert.match(outdated.stdout, new RegExp(`${VULNERABLE.id.replace('.', '\\.')}\\s+${VULNERABLE.version}\\s+${VULNERABLE.version}\\s+${VULNERABLE.fixed}`), context(outdated));

    await writeFile(join(project, 'App.csproj'), PROJECT('    <PackageReference Include="xunit" Version="2.9.3" />'));
    const add = await dotnet.run(['add', project, 'package', VULNERABLE.id], { cwd: project });
    assert.equal(add.code, 0, context(add));
    assert.match(await readFile(join(project, 'App.csproj'), 'utf8'), new RegExp(`Include="${VULNERABLE.id}" Version="${VULNERABLE.fixed}"`));

    assert.deepEqual(tripwire, [], 'the offline nugate sent requests to the upstream');
  });
});
