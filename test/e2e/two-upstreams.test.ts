/**
 * The dependency-confusion guard (design.md §5, README "Corporate gateway"): nugate merges a private feed and a
 * public one, and `packageSourceMapping` keeps `Contoso.*` on the private feed only. The public feed carries an
 * attacker's `Contoso.Private 99.0.0`; a project that floats `Contoso.Private` (`*`, so the highest version wins)
 * must still get the private 1.0.0, and nugate must never even ask the public feed about that id. Everything else
 * (xunit) comes from the public feed.
 *
 * Topology: private static feed (one unsigned package) + public static feed (/opt/nuget/packages + the attacker
 * package) ← nugate (child process) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls } from '../helpers/dotnet.ts';
import { writeNupkg } from '../helpers/e2e-nupkg.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { findPackage, loadPackages, sha512OfFile } from '../helpers/packages.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();

interface AssetsFile {
  libraries: Record<string, { type: string; sha512?: string }>;
  targets: Record<string, Record<string, { type: string }>>;
}

test('packageSourceMapping keeps Contoso.* on the private upstream; the public 99.0.0 is never seen', { timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-two-upstreams-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const good = await writeNupkg(work, { id: 'Contoso.Private', version: '1.0.0', description: 'The real private package' });
  const evil = await writeNupkg(work, { id: 'Contoso.Private', version: '99.0.0', description: 'An attacker squatting the private id on the public feed' });

  const privateFeed = await startStaticFeed({ packages: [], extraPackages: [{ path: good.path }] });
  t.after(() => privateFeed.close());
  const publicFeed = await startStaticFeed({ extraPackages: [{ path: evil.path }] });
  t.after(() => publicFeed.close());

  // Both feeds really serve the package they are given (so a pass below is nugate's doing, not an empty feed's).
  const direct = await fetch(`${publicFeed.flatContainerUrl}contoso.private/index.json`);
  assert.deepEqual(await direct.json(), { versions: ['99.0.0'] });
  const directPrivate = await fetch(`${privateFeed.flatContainerUrl}contoso.private/index.json`);
  assert.deepEqual(await directPrivate.json(), { versions: ['1.0.0'] });
  publicFeed.resetRequests();
  privateFeed.resetRequests();

  // The public feed is listed first, i.e. with the higher priority: the mapping, not the order, must decide.
  const nugate = await startNugate({
    config: nugateConfigFor(
      [
        { name: 'public', url: publicFeed.indexUrl },
        { name: 'private', url: privateFeed.indexUrl },
      ],
      { packageSourceMapping: { private: ['Contoso.*'], public: ['*'] } },
    ),
  });
  t.after(() => nugate.stop());

  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('App', [
    // A floating version resolves to the highest one available: exactly what makes 99.0.0 attractive.
    { id: 'Contoso.Private', version: '*' },
    { id: 'xunit', version: '2.9.3' },
  ]);
  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: 120_000 });
  const context = `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  assert.equal(r.code, 0, context);
  const codes = nugetCodes(r);
  for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context}`);
  for (const u of requestedUrls(r)) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);

  // The assets file: Contoso.Private 1.0.0, never 99.0.0.
  const assets = JSON.parse(await readFile(join(project, 'obj', 'project.assets.json'), 'utf8')) as AssetsFile;
  const libs = Object.keys(assets.libraries);
  assert.ok(libs.includes('Contoso.Private/1.0.0'), `Contoso.Private/1.0.0 not in project.assets.json libraries: ${libs.join(', ')}`);
  assert.ok(!libs.some((k) => k.toLowerCase() === 'contoso.private/99.0.0'), 'the attacker package 99.0.0 was resolved');
  const target = Object.values(assets.targets)[0] ?? {};
  assert.ok('Contoso.Private/1.0.0' in target, `Contoso.Private/1.0.0 not in the net10.0 target: ${Object.keys(target).join(', ')}`);
  assert.ok('xunit/2.9.3' in target, 'xunit/2.9.3 not in the net10.0 target');

  // The restored bytes are the private package's, and nothing of 99.0.0 reached the client machine.
  const installed = join(dotnet.packagesDir, 'contoso.private', '1.0.0', 'contoso.private.1.0.0.nupkg');
  assert.equal(await sha512OfFile(installed), good.sha512, 'the restored Contoso.Private 1.0.0 is not the private package');
  assert.equal((await readFile(join(dotnet.packagesDir, 'contoso.private', '1.0.0', 'contoso.private.1.0.0.nupkg.sha512'), 'utf8')).trim(), good.sha512);
  const installedIds = await loadPackages(dotnet.packagesDir);
  assert.deepEqual(
    installedIds.filter((p) => p.lowerId === 'contoso.private').map((p) => p.version),
    ['1.0.0'],
    'only the private Contoso.Private may be installed',
  );
  const xunit = findPackage(installedIds, 'xunit', '2.9.3');
  assert.equal(xunit.sha512, findPackage(store, 'xunit', '2.9.3').sha512, 'xunit differs from the public package');

  // No resource of nugate shows the attacker's version, not even the public upstream's own view.
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${nugate.baseUrl}${path}`);
    return { status: res.status, text: await res.text() };
  };
  assert.deepEqual(JSON.parse((await get('/v3/flatcontainer/contoso.private/index.json')).text), { versions: ['1.0.0'] });
  assert.equal((await get('/v3/flatcontainer/contoso.private/99.0.0/contoso.private.99.0.0.nupkg')).status, 404);
  assert.equal((await get('/upstreams/public/v3/flatcontainer/contoso.private/index.json')).status, 404);
  assert.equal((await get('/upstreams/public/v3/flatcontainer/contoso.private/99.0.0/contoso.private.99.0.0.nupkg')).status, 404);
  for (const path of [
    '/v3/registration/contoso.private/index.json',
    '/v3/search?q=contoso&prerelease=true&semVerLevel=2.0.0',
    '/v3/autocomplete?id=contoso.private&prerelease=true&semVerLevel=2.0.0',
  ]) {
    const { status, text } = await get(path);
    assert.equal(status, 200, `GET ${path} → ${status}`);
    assert.ok(text.includes('1.0.0'), `GET ${path} does not show the private 1.0.0: ${text.slice(0, 300)}`);
    assert.ok(!text.includes('99.0.0'), `GET ${path} shows the attacker's 99.0.0: ${text.slice(0, 300)}`);
  }

  // The public feed was never asked about the private id, in any resource; the private feed never about xunit.
  const publicAsked = publicFeed.requests.filter((x) => decodeURIComponent(x.url).toLowerCase().includes('contoso.private'));
  assert.deepEqual(publicAsked.map((x) => `${x.method} ${x.url}`), [], 'nugate asked the public upstream about Contoso.Private');
  const privateAsked = privateFeed.requests.filter((x) => /xunit|newtonsoft|microsoft\./i.test(x.url));
  assert.deepEqual(privateAsked.map((x) => `${x.method} ${x.url}`), [], 'nugate asked the private upstream about public ids');
  assert.equal(privateFeed.count('/v3-flatcontainer/contoso.private/1.0.0/contoso.private.1.0.0.nupkg'), 1, 'Contoso.Private came from somewhere else');
  assert.ok(publicFeed.count('/v3-flatcontainer/xunit/2.9.3/xunit.2.9.3.nupkg') >= 1, 'xunit did not come from the public upstream');
});
