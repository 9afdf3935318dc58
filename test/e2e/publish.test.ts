/**
 * Publish through nugate with the real client (design.md §6, protocol.md §2.4 and §5 items 46–54, 70):
 * `dotnet nuget push` / `--skip-duplicate` / `dotnet nuget delete` against nugate's service index, in
 * `passthrough` key mode. The package arrives byte-identical with the client's key; a restore right after the
 * push sees the new version although nugate had that id's versions cached (the push evicted them); the key
 * never reaches a read request and never a log line.
 *
 * Topology: publishable feed (static feed + fake publish upstream, test/helpers/e2e-publish-feed.ts) ← nugate
 * (child process) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FORBIDDEN_NUGET_CODES, describeResult, makeIsolatedDotnet, nugetCodes, requestedUrls, type DotnetResult } from '../helpers/dotnet.ts';
import { writeNupkg } from '../helpers/e2e-nupkg.ts';
import { startPublishableFeed } from '../helpers/e2e-publish-feed.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { loadPackageFromNupkg, sha512OfFile } from '../helpers/packages.ts';

/** Looks like a nuget.org key and is unique per run, so a grep for it cannot match anything else. */
const CLIENT_KEY = `oy2${randomBytes(20).toString('hex')}`;
const WRONG_KEY = `oy2${randomBytes(20).toString('hex')}`;

const sha512 = (bytes: Uint8Array): string => createHash('sha512').update(bytes).digest('base64');

interface RegistrationIndex {
  items: Array<{ items?: Array<{ catalogEntry: { version: string; listed?: boolean } }> }>;
}

function registrationVersions(doc: RegistrationIndex): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const page of doc.items) for (const leaf of page.items ?? []) out[leaf.catalogEntry.version] = leaf.catalogEntry.listed ?? true;
  return out;
}

test('dotnet nuget push / --skip-duplicate / delete through nugate (passthrough key), with cache eviction', { timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-publish-e2e-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const v1 = await writeNupkg(work, { id: 'Contoso.Lib', version: '1.0.0' });
  const v2 = await writeNupkg(work, { id: 'Contoso.Lib', version: '2.0.0' });
  const other1 = await writeNupkg(work, { id: 'Contoso.Other', version: '1.0.0' });
  const other2 = await writeNupkg(work, { id: 'Contoso.Other', version: '2.0.0' });

  const upstream = await startPublishableFeed({ apiKey: CLIENT_KEY, extraPackages: [{ path: v1.path }, { path: other1.path }] });
  t.after(() => upstream.close());
  const { feed, publisher } = upstream;

  const nugate = await startNugate({
    config: nugateConfigFor([{ name: 'internal', url: feed.indexUrl }], { publish: { keyMode: 'passthrough' }, log: { level: 'trace' } }),
  });
  t.after(() => nugate.stop());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const context = (r: DotnetResult): string => `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;

  // nugate advertises its own publish endpoint, because the upstream has one.
  const index = (await (await fetch(nugate.indexUrl)).json()) as { resources: Array<{ '@id': string; '@type': string }> };
  const publish = index.resources.filter((r) => r['@type'].startsWith('PackagePublish/'));
  assert.ok(publish.length > 0, `no PackagePublish in nugate's service index: ${JSON.stringify(index.resources.map((r) => r['@type']))}`);
  for (const r of publish) assert.equal(r['@id'], `${nugate.baseUrl}/v3/package`);

  // Prime nugate's caches for the id: it now holds "versions: [1.0.0]" with a 5-minute TTL.
  const flatUrl = `${nugate.baseUrl}/v3/flatcontainer/contoso.lib/index.json`;
  const regUrl = `${nugate.baseUrl}/v3/registration/contoso.lib/index.json`;
  assert.deepEqual(await (await fetch(flatUrl)).json(), { versions: ['1.0.0'] });
  const primed = await fetch(flatUrl);
  assert.deepEqual(await primed.json(), { versions: ['1.0.0'] });
  assert.equal(primed.headers.get('x-cache'), 'HIT', 'the flat index of contoso.lib is not cached, so the eviction check below proves nothing');
  assert.deepEqual(registrationVersions((await (await fetch(regUrl)).json()) as RegistrationIndex), { '1.0.0': true });
  const readsBeforePush = feed.count('/v3-flatcontainer/contoso.lib/index.json');

  // Control: a version that appears upstream *without* going through nugate stays invisible while nugate's copy
  // is fresh. So when the pushed version shows up at once below, it is because the push evicted the id.
  const otherUrl = `${nugate.baseUrl}/v3/flatcontainer/contoso.other/index.json`;
  assert.deepEqual(await (await fetch(otherUrl)).json(), { versions: ['1.0.0'] });
  feed.addPackage(await loadPackageFromNupkg(other2.path));
  assert.deepEqual(await (await fetch(`${feed.flatContainerUrl}contoso.other/index.json`)).json(), { versions: ['1.0.0', '2.0.0'] });
  assert.deepEqual(await (await fetch(otherUrl)).json(), { versions: ['1.0.0'] }, 'nugate does not cache the flat index; the eviction checks below prove nothing');

  await t.test('push', async () => {
    const r = await dotnet.run(['nuget', 'push', v2.path, '-s', nugate.indexUrl, '-k', CLIENT_KEY, '--configfile', dotnet.configFile], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r));
    assert.match(r.stdout, /Your package was pushed/, context(r));

    const puts = publisher.requests.filter((x) => x.method === 'PUT');
    assert.equal(puts.length, 1, `the upstream received ${puts.length} pushes`);
    const put = puts[0];
    assert.ok(put !== undefined);
    assert.equal(put.url, '/api/v2/package/');
    assert.equal(put.headers['x-nuget-apikey'], CLIENT_KEY, 'the client key did not reach the upstream push endpoint');
    const stored = publisher.packages.get('contoso.lib/2.0.0');
    assert.ok(stored !== undefined, 'the upstream did not store Contoso.Lib 2.0.0');
    assert.equal(sha512(stored.bytes), v2.sha512, 'the pushed package changed on its way through nugate');
  });

  await t.test('a restore right after the push sees the new version (nugate evicted its cache)', async () => {
    const project = await dotnet.writeProject('Consumer', [{ id: 'Contoso.Lib', version: '2.0.0' }]);
    const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, `restore after the push failed: nugate still served its pre-push versions list?\n${context(r)}`);
    const codes = nugetCodes(r);
    for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context(r)}`);
    for (const u of requestedUrls(r)) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
    const assets = JSON.parse(await readFile(join(project, 'obj', 'project.assets.json'), 'utf8')) as { libraries: Record<string, unknown> };
    assert.ok('Contoso.Lib/2.0.0' in assets.libraries, `Contoso.Lib/2.0.0 not restored: ${Object.keys(assets.libraries).join(', ')}`);
    assert.equal(await sha512OfFile(join(dotnet.packagesDir, 'contoso.lib', '2.0.0', 'contoso.lib.2.0.0.nupkg')), v2.sha512);

    assert.ok(feed.count('/v3-flatcontainer/contoso.lib/index.json') > readsBeforePush, 'nugate never re-read the versions list after the push');
    assert.deepEqual(await (await fetch(flatUrl)).json(), { versions: ['1.0.0', '2.0.0'] });
    assert.deepEqual(registrationVersions((await (await fetch(regUrl)).json()) as RegistrationIndex), { '1.0.0': true, '2.0.0': true });
    // The eviction is per id: the control id is still served from nugate's (now outdated) copy.
    assert.deepEqual(await (await fetch(otherUrl)).json(), { versions: ['1.0.0'] }, 'a push of Contoso.Lib evicted another id too');
  });

  await t.test('push again with --skip-duplicate: the upstream says 409, the client exits 0', async () => {
    const r = await dotnet.run(['nuget', 'push', v2.path, '-s', nugate.indexUrl, '-k', CLIENT_KEY, '--skip-duplicate', '--configfile', dotnet.configFile], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, context(r));
    assert.match(`${r.stdout}${r.stderr}`, /already exists/i, context(r));
    assert.equal(publisher.requests.filter((x) => x.method === 'PUT').length, 2, 'the second push did not reach the upstream');
    assert.match(nugate.logs(), /"op":"push"[^\n]*"status":409/, 'nugate did not log the upstream 409');
  });

  await t.test('a wrong key: the upstream 403 comes back as is (passthrough: nugate does not judge the key)', async () => {
    const r = await dotnet.run(['nuget', 'push', v2.path, '-s', nugate.indexUrl, '-k', WRONG_KEY, '--configfile', dotnet.configFile], { timeoutMs: 90_000 });
    assert.notEqual(r.code, 0, context(r));
    assert.match(`${r.stdout}${r.stderr}`, /403/, context(r));
    const last = publisher.requests[publisher.requests.length - 1];
    assert.equal(last?.method, 'PUT');
    assert.equal(last?.headers['x-nuget-apikey'], WRONG_KEY, 'nugate did not pass the key through as given');
    // A push answered 403 with no challenge: the client must not start asking for credentials (protocol.md §5 item 50).
    const direct = await fetch(`${nugate.baseUrl}/v3/package/Contoso.Lib/2.0.0`, { method: 'DELETE', headers: { 'X-NuGet-ApiKey': WRONG_KEY } });
    await direct.arrayBuffer();
    assert.equal(direct.status, 403);
    assert.equal(direct.headers.get('www-authenticate'), null, 'nugate added WWW-Authenticate to an API-key failure');
  });

  await t.test('delete: forwarded with the id and version as typed, and evicts', async () => {
    // Mixed-case id and a non-normalized version: the upstream must get both exactly as typed (protocol.md §2.4).
    const r = await dotnet.run(
      ['nuget', 'delete', 'Contoso.LIB', '2.0.0.0', '-s', nugate.indexUrl, '-k', CLIENT_KEY, '--non-interactive'],
      { timeoutMs: 90_000 },
    );
    assert.equal(r.code, 0, context(r));
    const deletes = publisher.requests.filter((x) => x.method === 'DELETE' && x.headers['x-nuget-apikey'] !== WRONG_KEY);
    assert.deepEqual(deletes.map((x) => x.url), ['/api/v2/package/Contoso.LIB/2.0.0.0']);
    assert.equal(deletes[0]?.headers['x-nuget-apikey'], CLIENT_KEY);
    assert.equal(publisher.packages.get('contoso.lib/2.0.0')?.listed, false, 'the upstream did not unlist 2.0.0');
    // Unlisted stays in the flat index (protocol.md §1.3) but registration says listed: false, at once.
    assert.deepEqual(registrationVersions((await (await fetch(regUrl)).json()) as RegistrationIndex), { '1.0.0': true, '2.0.0': false });
  });

  await t.test('the client key never reaches a read request and never a log line', async () => {
    const publishPaths = feed.requests.filter((x) => x.url.startsWith('/api/v2/package'));
    assert.deepEqual(
      publishPaths.map((x) => `${x.method} ${x.headers['x-nuget-apikey'] === CLIENT_KEY ? 'key' : x.headers['x-nuget-apikey'] === WRONG_KEY ? 'wrong key' : 'no key'}`),
      ['PUT key', 'PUT key', 'PUT wrong key', 'DELETE wrong key', 'DELETE key'],
      'the publish requests at the upstream',
    );
    for (const x of feed.requests) {
      if (x.url.startsWith('/api/v2/package')) continue;
      const seen = `${x.method} ${x.url}\n${JSON.stringify(x.headers)}`;
      assert.ok(!seen.includes(CLIENT_KEY) && !seen.includes(WRONG_KEY), `a client key reached a read request at the upstream: ${seen}`);
    }
    for (const x of publisher.requests) {
      // Only the API key header may carry it: not the URL, not another header.
      const { 'x-nuget-apikey': _key, ...others } = x.headers;
      assert.ok(!`${x.url}${JSON.stringify(others)}`.includes(CLIENT_KEY), `the key leaked into ${x.method} ${x.url}: ${JSON.stringify(others)}`);
    }
    assert.ok(nugate.logs().includes('publish push'), 'nugate did not log the pushes at all, so the log check proves nothing');
    assert.ok(!nugate.logs().includes(CLIENT_KEY), 'the client key appears in nugate\'s logs');
    assert.ok(!nugate.logs().includes(WRONG_KEY), 'a rejected client key appears in nugate\'s logs');
  });
});
