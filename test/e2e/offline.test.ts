/**
 * The cache survives nugate itself (design.md §3, README "Air-gapped"): a restore through nugate fills
 * `cache.dir`; a new nugate process on the same directory serves the same restore without downloading a
 * package again, and an `--offline` one serves it with the upstream gone and never contacts it. What was never
 * cached answers 404 offline, at once (design.md §4: offline never hangs and never says 5xx).
 *
 * Topology: static feed (upstream) ← nugate (child process, cache.dir owned by this test) ← dotnet (isolated,
 * fresh NUGET_PACKAGES and http-cache for every restore). For the offline phase the feed is closed and a
 * "tripwire" server takes over its port: any request nugate sent to the upstream's address would land there.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { IsolatedDotnet } from '../helpers/dotnet.ts';
import { EXPECTED_CLOSURE, assertRestoredLikeStore, restoreDeep } from '../helpers/restore-project.ts';
import { writeNupkg } from '../helpers/e2e-nupkg.ts';
import { nugateConfigFor, startNugate, type NugateProcess } from '../helpers/nugate-process.ts';
import { loadPackages } from '../helpers/packages.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';

const store = await loadPackages();
/** Restores DEEP_REFS through nugate with a brand-new client (empty NUGET_PACKAGES and http-cache) and checks the result. */
async function freshRestore(t: TestContext, nugate: NugateProcess, label: string): Promise<IsolatedDotnet> {
  const { dotnet } = await restoreDeep(t, nugate, { label, timeoutMs: 120_000 });
  await assertRestoredLikeStore(dotnet, store, { label });
  const assets = JSON.parse(await readFile(join(dotnet.dir, 'Tests', 'obj', 'project.assets.json'), 'utf8')) as { libraries: Record<string, { type: string }> };
  assert.ok('xunit/2.9.3' in assets.libraries, `[${label}] xunit/2.9.3 not in project.assets.json`);
  return dotnet;
}

interface Tripwire {
  requests: Array<{ method: string; url: string }>;
  close(): Promise<void>;
}

/** Listens on `port` of 127.0.0.1 (where the upstream was), records every request and answers 503. */
async function startTripwire(port: number): Promise<Tripwire> {
  const requests: Array<{ method: string; url: string }> = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '' });
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('tripwire: the upstream is gone');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot re-bind the upstream's port ${port} for the tripwire: ${String(err)}`)));
    server.listen(port, '127.0.0.1', () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    requests,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

test('the cache dir outlives nugate: restart serves without downloads, --offline serves with the upstream gone', { timeout: 180_000 }, async (t) => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'nugate-offline-cache-'));
  t.after(() => rm(cacheDir, { recursive: true, force: true, maxRetries: 3 }));
  const feed = await startStaticFeed();
  t.after(() => feed.close());
  const upstreamPort = Number(new URL(feed.url).port);
  // Short TTLs: by the offline phase every cached document is past its freshness, so an nugate that ignored
  // --offline would revalidate against the upstream's address (and hit the tripwire) instead of passing quietly.
  const ttl = { metadata: '1s', search: '1s', notFound: '1s', serviceIndex: '1s' };
  const config = nugateConfigFor([{ name: 'static', url: feed.indexUrl }], { cache: { dir: cacheDir, ttl } });
  const nupkgFetches = (): number => feed.count((r) => r.method === 'GET' && r.url.endsWith('.nupkg'));

  await t.test('a first nugate fills the cache dir', async (t) => {
    const nugate = await startNugate({ config });
    t.after(() => nugate.stop());
    await freshRestore(t, nugate, 'online, cold');
    assert.ok(nupkgFetches() >= EXPECTED_CLOSURE.length, `nugate fetched only ${nupkgFetches()} packages from the upstream`);
    assert.equal(await nugate.stop('SIGTERM'), 0, `nugate did not exit cleanly on SIGTERM\n${nugate.logs().slice(-2000)}`);
  });

  await t.test('a second online nugate on the same cache dir downloads no package again', async (t) => {
    feed.resetRequests();
    const nugate = await startNugate({ config });
    t.after(() => nugate.stop());
    await freshRestore(t, nugate, 'online, restarted');
    const seen = feed.requests.map((r) => `${r.method} ${r.url}`);
    // Dependency warming may still ask for a version the upstream does not have (a range's lower bound, on
    // speculation): nothing nugate could hold. Every package the upstream does have is served from disk.
    const real = new Set(feed.packages.map((p) => `/v3-flatcontainer/${p.lowerId}/${p.lowerVersion}/${p.lowerId}.${p.lowerVersion}.nupkg`));
    const downloadedAgain = feed.requests.filter((r) => r.method === 'GET' && real.has(r.url));
    assert.deepEqual(downloadedAgain.map((r) => r.url), [], `after a restart nugate downloaded packages it had on disk (protocol.md §5 item 73):\n${seen.join('\n')}`);
    assert.equal(await nugate.stop('SIGTERM'), 0);
  });

  await t.test('an --offline nugate on the same cache dir, with the upstream gone', async (t) => {
    await feed.close();
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // every TTL above has run out
    const tripwire = await startTripwire(upstreamPort);
    t.after(() => tripwire.close());
    const nugate = await startNugate({ config, args: ['--offline'] });
    t.after(() => nugate.stop());
    const upstreamSaw = (): string[] => tripwire.requests.map((r) => `${r.method} ${r.url}`);

    await t.test('restores from the cache, answers 404 at once for what was never cached, and never contacts the upstream', async (t) => {
      await freshRestore(t, nugate, 'offline');

      // What was never cached: 404 (not 5xx: the client would retry and report the source as broken), at once.
      const uncached = [
        `${nugate.baseUrl}/v3/flatcontainer/never.cached.anywhere/index.json`,
        `${nugate.baseUrl}/v3/flatcontainer/never.cached.anywhere/1.0.0/never.cached.anywhere.1.0.0.nupkg`,
        `${nugate.baseUrl}/v3/flatcontainer/xunit/9.9.9/xunit.9.9.9.nupkg`,
        `${nugate.baseUrl}/v3/registration/never.cached.anywhere/index.json`,
      ];
      for (const url of uncached) {
        const started = performance.now();
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        const ms = performance.now() - started;
        assert.equal(res.status, 404, `offline GET ${url} → ${res.status}, expected 404`);
        assert.ok(ms < 1000, `offline GET ${url} took ${Math.round(ms)} ms (must not hang)`);
      }
      // And what was cached is still there after those misses.
      const xunit = await fetch(`${nugate.baseUrl}/v3/flatcontainer/xunit/index.json`);
      assert.equal(xunit.status, 200);
      assert.deepEqual(await xunit.json(), { versions: ['2.9.3'] });

      assert.deepEqual(upstreamSaw(), [], `an --offline nugate sent requests to the upstream's address\n${nugate.logs().slice(-3000)}`);
    });

    await t.test('refuses a push and a delete instead of forwarding them upstream', async () => {
      // README: `offline` = "never contact an upstream"; air-gapped = "zero upstream requests". Publishing included.
      const pkg = await writeNupkg(cacheDir, { id: 'Contoso.Offline', version: '1.0.0' });
      const form = new FormData();
      form.append('package', new Blob([pkg.bytes], { type: 'application/octet-stream' }), 'package.nupkg');
      const key = { 'X-NuGet-ApiKey': 'offline-test-key' };
      const push = await fetch(`${nugate.baseUrl}/v3/package/`, { method: 'PUT', body: form, headers: key, signal: AbortSignal.timeout(10_000) });
      const pushText = await push.text();
      const del = await fetch(`${nugate.baseUrl}/v3/package/Contoso.Offline/1.0.0`, { method: 'DELETE', headers: key, signal: AbortSignal.timeout(10_000) });
      const delText = await del.text();
      assert.deepEqual(
        upstreamSaw(),
        [],
        `an --offline nugate forwarded publish requests to the upstream (push → ${push.status} ${pushText.slice(0, 200)}; delete → ${del.status} ${delText.slice(0, 200)})`,
      );
      assert.ok(push.status >= 400, `an --offline nugate answered a push with ${push.status}: ${pushText.slice(0, 200)}`);
      assert.ok(del.status >= 400, `an --offline nugate answered a delete with ${del.status}: ${delText.slice(0, 200)}`);
    });

    assert.equal(await nugate.stop('SIGTERM'), 0);
  });
});
