/**
 * Read authentication with the real client (README `auth.read`, protocol.md §2.3 and §5 items 57–58): the NuGet
 * client only sends Basic credentials in answer to a 401 carrying `WWW-Authenticate: Basic realm="…"`, so nugate
 * must challenge, then accept `packageSourceCredentials` on every resource it advertises. Without credentials, or
 * with a wrong password, restore fails as "unauthorized", never hangs and never gets a 403 loop. The client's
 * credentials stay between the client and nugate: not forwarded upstream, not logged.
 *
 * Topology: static feed (upstream, anonymous) ← nugate (child process, auth.read) ← dotnet (isolated).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  FORBIDDEN_NUGET_CODES,
  describeResult,
  makeIsolatedDotnet,
  nugetCodes,
  requestedUrls,
  type DotnetResult,
  type DotnetSource,
  type IsolatedDotnet,
} from '../helpers/dotnet.ts';
import { nugateConfigFor, startNugate } from '../helpers/nugate-process.ts';
import { findPackage, loadPackages } from '../helpers/packages.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();
const USER = 'ci-reader';
const PASSWORD = `pw-${randomBytes(16).toString('hex')}`;
const REALM = 'nugate e2e';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('auth.read: restore with packageSourceCredentials passes the Basic challenge; without them it fails', { timeout: 120_000 }, async (t) => {
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const nugate = await startNugate({
    config: nugateConfigFor([{ name: 'static', url: feed.indexUrl }], {
      auth: { read: true, realm: REALM, users: [{ username: USER, passwordSha256: createHash('sha256').update(PASSWORD).digest('hex') }] },
      log: { level: 'debug' },
    }),
  });
  t.after(() => nugate.stop());

  const restore = async (source: DotnetSource): Promise<{ r: DotnetResult; context: string; dir: string; packagesDir: string }> => {
    const dotnet = await makeIsolatedDotnet({ sources: [source] });
    t.after(() => dotnet.cleanup());
    const r = await runRestore(dotnet);
    return { r, context: `${describeResult(r)}\n--- nugate logs (tail) ---\n${nugate.logs().slice(-3000)}`, dir: dotnet.dir, packagesDir: dotnet.packagesDir };
  };

  await t.test('anonymous requests get 401 with a Basic challenge; good credentials 200; bad ones 401', async () => {
    for (const path of ['/v3/index.json', '/v3/flatcontainer/newtonsoft.json/index.json', '/v3/registration/newtonsoft.json/index.json', '/v3/search?q=json']) {
      const anon = await fetch(`${nugate.baseUrl}${path}`);
      await anon.arrayBuffer();
      assert.equal(anon.status, 401, `anonymous GET ${path} → ${anon.status}`);
      assert.equal(anon.headers.get('www-authenticate'), `Basic realm="${REALM}"`, `GET ${path}: challenge`);

      const wrong = await fetch(`${nugate.baseUrl}${path}`, { headers: { authorization: basic(USER, `${PASSWORD}x`) } });
      await wrong.arrayBuffer();
      assert.equal(wrong.status, 401, `wrong password on ${path} → ${wrong.status} (403 would make the client loop)`);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic realm=/);

      const ok = await fetch(`${nugate.baseUrl}${path}`, { headers: { authorization: basic(USER, PASSWORD) } });
      await ok.arrayBuffer();
      assert.equal(ok.status, 200, `authenticated GET ${path} → ${ok.status}`);
    }
    const health = await fetch(`${nugate.baseUrl}/health`);
    await health.arrayBuffer();
    assert.equal(health.status, 200, '/health must stay open for probes');
  });

  await t.test('dotnet restore with packageSourceCredentials succeeds', async () => {
    feed.resetRequests();
    const { r, context, dir, packagesDir } = await restore({ name: 'nugate', url: nugate.indexUrl, username: USER, password: PASSWORD });
    assert.equal(r.code, 0, context);
    const codes = nugetCodes(r);
    for (const c of FORBIDDEN_NUGET_CODES) assert.ok(!codes.includes(c), `${c} in restore output\n${context}`);
    for (const u of requestedUrls(r)) assert.ok(u.startsWith(`${nugate.baseUrl}/`), `the client fetched ${u}, which is not nugate`);
    const assets = JSON.parse(await readFile(join(dir, 'App', 'obj', 'project.assets.json'), 'utf8')) as { libraries: Record<string, unknown> };
    assert.ok('Newtonsoft.Json/13.0.3' in assets.libraries, `Newtonsoft.Json/13.0.3 not restored: ${Object.keys(assets.libraries).join(', ')}`);
    const restored = findPackage(await loadPackages(packagesDir, { verifyHashes: true }), 'Newtonsoft.Json', '13.0.3');
    assert.equal(restored.sha512, findPackage(store, 'Newtonsoft.Json', '13.0.3').sha512);

    // The client really went through the challenge (one anonymous request, then credentials).
    assert.match(nugate.logs(), /"status":401/, 'nugate never challenged the client');
    // The client's credentials stop at nugate.
    for (const x of feed.requests) {
      assert.equal(x.headers.authorization, undefined, `nugate forwarded the client's Authorization header upstream: ${x.method} ${x.url}`);
      assert.ok(!JSON.stringify(x.headers).includes(PASSWORD), `the password reached the upstream: ${x.method} ${x.url}`);
    }
    assert.ok(!nugate.logs().includes(PASSWORD), 'the password appears in nugate\'s logs');
    assert.ok(!nugate.logs().includes(Buffer.from(`${USER}:${PASSWORD}`).toString('base64')), 'the Basic credentials appear in nugate\'s logs');
  });

  await t.test('dotnet restore without credentials fails as unauthorized', async () => {
    const { r, context } = await restore({ name: 'nugate', url: nugate.indexUrl });
    assert.notEqual(r.code, 0, `restore without credentials succeeded\n${context}`);
    const out = `${r.stdout}\n${r.stderr}`;
    assert.ok(nugetCodes(r).includes('NU1301'), `no NU1301 in the output\n${context}`);
    assert.match(out, /\b401\b \(Unauthorized\)/, `the failure is not "401 (Unauthorized)"\n${context}`);
  });

  await t.test('dotnet restore with a wrong password fails as unauthorized', async () => {
    const { r, context } = await restore({ name: 'nugate', url: nugate.indexUrl, username: USER, password: `${PASSWORD}-wrong` });
    assert.notEqual(r.code, 0, `restore with a wrong password succeeded\n${context}`);
    const out = `${r.stdout}\n${r.stderr}`;
    assert.ok(nugetCodes(r).includes('NU1301'), `no NU1301 in the output\n${context}`);
    assert.match(out, /\b401\b \(Unauthorized\)/, `the failure is not "401 (Unauthorized)"\n${context}`);
  });
});

async function runRestore(dotnet: IsolatedDotnet): Promise<DotnetResult> {
  const project = await dotnet.writeProject('App', [{ id: 'Newtonsoft.Json', version: '13.0.3' }]);
  return dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: 90_000 });
}
