/**
 * Symbol packages through nugate with the real client (protocol.md §2.4, §5 items 8 and 55): `dotnet nuget push
 * X.nupkg` with no `--symbol-source` finds SymbolPackagePublish in nugate's service index and, after the .nupkg,
 * pushes the .snupkg lying next to it there, with the package key. nugate advertises SymbolPackagePublish only
 * when the target upstream has one, and forwards the .snupkg to it byte for byte (passthrough key mode).
 * A refused .snupkg fails the command. Without a symbol endpoint upstream, nugate advertises none, and the same
 * push succeeds with only the package.
 *
 * Topology: publishable feed (static feed + fake publish upstreams, test/helpers/e2e-publish-feed.ts) ← nugate
 * (child process) ← dotnet (isolated, knows only nugate).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { describeResult, makeIsolatedDotnet, type DotnetResult, type IsolatedDotnet } from '../helpers/dotnet.ts';
import { writeNupkg, type WrittenNupkg } from '../helpers/e2e-nupkg.ts';
import { startPublishableFeed, type PublishableFeed } from '../helpers/e2e-publish-feed.ts';
import { parseSinglePart } from '../helpers/fake-publish-upstream.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';

/** Looks like a nuget.org key and is unique per run, so a grep for it cannot match anything else. */
const CLIENT_KEY = `oy2${randomBytes(20).toString('hex')}`;
const ID = 'Contoso.Sym';
const VERSION = '1.0.0';

const sha512 = (bytes: Uint8Array): string => createHash('sha512').update(bytes).digest('base64');

/**
 * A symbol package as `dotnet pack --include-symbols -p:SymbolPackageFormat=snupkg` makes one: a zip with a root
 * nuspec of package type SymbolsPackage and the .pdb files. The pdb bytes are random, so the hash below proves the
 * upstream got this very file.
 */
async function writeSnupkg(dir: string, id: string, version: string): Promise<WrittenNupkg> {
  // A portable PDB starts with the metadata signature "BSJB"; the rest is noise.
  const pdb = Buffer.concat([Buffer.from('BSJB', 'latin1'), randomBytes(2048)]);
  return writeNupkg(dir, {
    id,
    version,
    description: `Symbols of ${id} ${version}, built by the nugate e2e tests`,
    packageTypes: ['SymbolsPackage'],
    files: { [`lib/net10.0/${id}.pdb`]: new Uint8Array(pdb) },
    extension: 'snupkg',
  });
}

interface ServiceIndex {
  resources: Array<{ '@id': string; '@type': string | string[] }>;
}

const typesOf = (r: ServiceIndex['resources'][number]): string[] => (Array.isArray(r['@type']) ? r['@type'] : [r['@type']]);

async function serviceIndex(url: string): Promise<ServiceIndex> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return (await res.json()) as ServiceIndex;
}

interface Setup {
  work: string;
  nupkg: WrittenNupkg;
  snupkg: WrittenNupkg;
  upstream: PublishableFeed;
  nugate: NugateProcess;
  dotnet: IsolatedDotnet;
  context(r: DotnetResult): string;
  push(): Promise<DotnetResult>;
}

/** Contoso.Sym 1.0.0 as .nupkg and .snupkg in one folder, a publishable upstream, nugate in front, an isolated client. */
async function setUp(t: TestContext, symbols: boolean): Promise<Setup> {
  const work = await mkdtemp(join(tmpdir(), 'nugate-symbols-e2e-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const nupkg = await writeNupkg(work, { id: ID, version: VERSION });
  const snupkg = await writeSnupkg(work, ID, VERSION);
  assert.deepEqual((await readdir(work)).sort(), [`${ID}.${VERSION}.nupkg`, `${ID}.${VERSION}.snupkg`]);

  const upstream = await startPublishableFeed({ apiKey: CLIENT_KEY, symbols });
  t.after(() => upstream.close());
  const nugate = await startNugate({
    config: nugateConfigFor([{ name: 'internal', url: upstream.feed.indexUrl }], { publish: { keyMode: 'passthrough' }, log: { level: 'trace' } }),
  });
  t.after(() => nugate.stop());
  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: nugate.indexUrl }] });
  t.after(() => dotnet.cleanup());
  const context = (r: DotnetResult): string => `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-4000)}`;
  return {
    work,
    nupkg,
    snupkg,
    upstream,
    nugate,
    dotnet,
    context,
    // No --symbol-source and no --symbol-api-key: the client finds both on its own (protocol.md §2.4).
    push: () =>
      dotnet.run(['nuget', 'push', nupkg.path, '-s', nugate.indexUrl, '-k', CLIENT_KEY, '--configfile', dotnet.configFile], { cwd: work, timeoutMs: 90_000 }),
  };
}

/** The single-part multipart body of a recorded push, as the fake parsed it. */
function pushedBytes(req: { headers: { 'content-type'?: string }; body: Buffer }): Buffer {
  const part = parseSinglePart(req.headers['content-type'], req.body);
  assert.ok(part !== undefined, `the push body is not a single-part multipart body (content-type ${String(req.headers['content-type'])})`);
  return part.content;
}

test('dotnet nuget push with a .snupkg next to the .nupkg: both reach the upstream through nugate', { timeout: 120_000 }, async (t) => {
  const s = await setUp(t, true);
  const { feed, publisher, symbolPublisher } = s.upstream;
  assert.ok(symbolPublisher !== undefined);

  // The upstream advertises a symbol endpoint, so nugate advertises its own (protocol.md §5 item 8).
  const upstreamIndex = await serviceIndex(feed.indexUrl);
  assert.ok(
    upstreamIndex.resources.some((r) => typesOf(r).includes('SymbolPackagePublish/4.9.0') && r['@id'] === `${feed.url}/api/v2/symbolpackage`),
    'the test upstream does not advertise SymbolPackagePublish, so this test proves nothing',
  );
  const index = await serviceIndex(s.nugate.indexUrl);
  const symbolEntries = index.resources.filter((r) => typesOf(r).some((x) => x.startsWith('SymbolPackagePublish')));
  assert.deepEqual(
    symbolEntries.map((r) => ({ id: r['@id'], types: typesOf(r) })),
    [{ id: `${s.nugate.baseUrl}/v3/symbolpackage`, types: ['SymbolPackagePublish/4.9.0'] }],
    `nugate's SymbolPackagePublish entries: ${JSON.stringify(index.resources)}`,
  );
  for (const r of index.resources) assert.ok(!r['@id'].startsWith(feed.url), `nugate's index hands out an upstream URL: ${r['@id']}`);

  const r = await s.push();
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, s.context(r));
  // The client says what it pushes and where, for each file.
  assert.match(out, new RegExp(`Pushing ${ID}\\.${VERSION}\\.nupkg to '${s.nugate.baseUrl}/v3/package`), s.context(r));
  assert.match(out, new RegExp(`Pushing ${ID}\\.${VERSION}\\.snupkg to '${s.nugate.baseUrl}/v3/symbolpackage`), s.context(r));
  assert.equal(out.match(/Your package was pushed/g)?.length, 2, `expected "Your package was pushed" for the package and the symbols\n${s.context(r)}`);

  // The package endpoint got the .nupkg, the symbol endpoint the .snupkg: each once, byte-identical, with the client key.
  const packagePuts = publisher.requests.filter((x) => x.method === 'PUT');
  assert.deepEqual(packagePuts.map((x) => x.url), ['/api/v2/package/'], 'pushes at the package endpoint');
  const symbolPuts = symbolPublisher.requests.filter((x) => x.method === 'PUT');
  assert.deepEqual(symbolPuts.map((x) => x.url), ['/api/v2/symbolpackage/'], 'pushes at the symbol endpoint');
  const packagePut = packagePuts[0];
  const symbolPut = symbolPuts[0];
  assert.ok(packagePut !== undefined && symbolPut !== undefined);
  assert.equal(packagePut.headers['x-nuget-apikey'], CLIENT_KEY, 'the client key did not reach the package endpoint');
  assert.equal(symbolPut.headers['x-nuget-apikey'], CLIENT_KEY, 'the client key (the symbol push falls back to it) did not reach the symbol endpoint');
  assert.equal(sha512(pushedBytes(packagePut)), s.nupkg.sha512, 'the .nupkg changed on its way through nugate');
  assert.equal(sha512(pushedBytes(symbolPut)), s.snupkg.sha512, 'the .snupkg changed on its way through nugate (or the .nupkg went to the symbol endpoint)');
  assert.equal(sha512(publisher.packages.get('contoso.sym/1.0.0')?.bytes ?? Buffer.alloc(0)), s.nupkg.sha512, 'the upstream did not store the .nupkg');
  assert.equal(sha512(symbolPublisher.packages.get('contoso.sym/1.0.0')?.bytes ?? Buffer.alloc(0)), s.snupkg.sha512, 'the upstream did not store the .snupkg');

  // At the upstream's origin, in order: the package, then the symbols (protocol.md §2.4: "after each successful nupkg push").
  assert.deepEqual(
    feed.requests.filter((x) => x.url.startsWith('/api/v2/')).map((x) => `${x.method} ${x.url}`),
    ['PUT /api/v2/package/', 'PUT /api/v2/symbolpackage/'],
  );
  assert.match(s.nugate.logs(), /"kind":"symbols"[^\n]*"op":"push"[^\n]*"status":201/, 'nugate did not log the forwarded symbol push');

  // "A failure there fails the command" (protocol.md §2.4): the upstream refuses the next .snupkg, nugate relays
  // the refusal with its reason phrase, and the client exits non-zero although the package itself went in.
  const v2 = await writeNupkg(s.work, { id: ID, version: '1.0.1' });
  const v2Symbols = await writeSnupkg(s.work, ID, '1.0.1');
  symbolPublisher.queue.push({ status: 400, reason: 'The symbol package is invalid (nugate e2e)' });
  const refused = await s.dotnet.run(['nuget', 'push', v2.path, '-s', s.nugate.indexUrl, '-k', CLIENT_KEY, '--configfile', s.dotnet.configFile], { cwd: s.work, timeoutMs: 90_000 });
  assert.notEqual(refused.code, 0, `a refused .snupkg did not fail the push\n${s.context(refused)}`);
  assert.match(`${refused.stdout}\n${refused.stderr}`, /The symbol package is invalid \(nugate e2e\)/, s.context(refused));
  assert.ok(publisher.packages.has('contoso.sym/1.0.1'), 'the package of the refused symbols was not pushed first');
  const refusedPut = symbolPublisher.requests.filter((x) => x.method === 'PUT')[1];
  assert.ok(refusedPut !== undefined, 'the second .snupkg never reached the symbol endpoint');
  assert.equal(sha512(pushedBytes(refusedPut)), v2Symbols.sha512);
  assert.equal(symbolPublisher.packages.has('contoso.sym/1.0.1'), false);

  assert.ok(!s.nugate.logs().includes(CLIENT_KEY), "the client key appears in nugate's logs");
});

test('no SymbolPackagePublish upstream: nugate advertises none, and the push with a .snupkg present pushes only the package', { timeout: 120_000 }, async (t) => {
  const s = await setUp(t, false);
  const { feed, publisher, symbolPublisher } = s.upstream;
  assert.equal(symbolPublisher, undefined);

  const upstreamIndex = await serviceIndex(feed.indexUrl);
  assert.ok(!upstreamIndex.resources.some((r) => typesOf(r).some((x) => x.startsWith('SymbolPackagePublish'))), 'the test upstream advertises symbols');
  const index = await serviceIndex(s.nugate.indexUrl);
  const types = index.resources.flatMap(typesOf);
  assert.ok(types.includes('PackagePublish/2.0.0'), `nugate does not advertise PackagePublish: ${JSON.stringify(types)}`);
  assert.ok(!types.some((x) => x.startsWith('SymbolPackagePublish')), `nugate advertises SymbolPackagePublish without an upstream for it: ${JSON.stringify(types)}`);

  const r = await s.push();
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, s.context(r));
  assert.match(out, new RegExp(`Pushing ${ID}\\.${VERSION}\\.nupkg to '${s.nugate.baseUrl}/v3/package`), s.context(r));
  assert.equal(out.match(/Your package was pushed/g)?.length, 1, `expected exactly one "Your package was pushed"\n${s.context(r)}`);
  assert.ok(!/snupkg/i.test(out), `the client tried to push the symbols\n${s.context(r)}`);

  const puts = publisher.requests.filter((x) => x.method === 'PUT');
  assert.deepEqual(puts.map((x) => x.url), ['/api/v2/package/']);
  const put = puts[0];
  assert.ok(put !== undefined);
  assert.equal(put.headers['x-nuget-apikey'], CLIENT_KEY);
  assert.equal(sha512(pushedBytes(put)), s.nupkg.sha512, 'the .nupkg changed on its way through nugate');
  assert.deepEqual(
    feed.requests.filter((x) => x.url.startsWith('/api/v2/')).map((x) => `${x.method} ${x.url}`),
    ['PUT /api/v2/package/'],
    'requests at the upstream publish paths',
  );
  assert.doesNotMatch(s.nugate.logs(), /"kind":"symbols"[^\n]*"op":"push"/, 'a symbol push reached nugate');
});
