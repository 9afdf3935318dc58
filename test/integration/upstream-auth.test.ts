/**
 * Upstream credentials (issue: publish/auth): read from the environment, sent to the upstream's own origins only,
 * never across a redirect to another host (a blob store or signed URL, protocol.md §5 item 25), never logged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { zipSync, strToU8 } from 'fflate';
import { startNugateInProcess } from '../helpers/inproc.ts';

const PASSWORD = 'upstream-pat-5f4e3d2c';
const TOKEN = 'tenant-token-9a8b7c';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

test('credentials reach the upstream, not the blob host it redirects to, and never the logs', async (t) => {
  const nupkg = Buffer.from(zipSync({ 'Private.Pkg.nuspec': strToU8('<package><metadata><id>Private.Pkg</id><version>1.0.0</version><authors>a</authors><description>d</description></metadata></package>') }));
  const blobSeen: IncomingHttpHeaders[] = [];
  const blob = createServer((req, res) => {
    blobSeen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(nupkg.length) });
    res.end(nupkg);
  });
  const blobOrigin = await listen(blob);
  const feedSeen: IncomingHttpHeaders[] = [];
  let origin = '';
  const feed = createServer((req, res) => {
    feedSeen.push(req.headers);
    const expected = `Basic ${Buffer.from(`nugate:${PASSWORD}`).toString('base64')}`;
    if (req.headers.authorization !== expected || req.headers['x-tenant'] !== TOKEN) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="feed"' });
      res.end();
      return;
    }
    if (req.url === '/v3/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: '3.0.0', resources: [{ '@id': `${origin}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] }));
    } else if (req.url === '/flat/private.pkg/index.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ versions: ['1.0.0'] }));
    } else if (req.url === '/flat/private.pkg/1.0.0/private.pkg.1.0.0.nupkg') {
      // Like a feed handing out a signed storage URL.
      res.writeHead(302, { location: `${blobOrigin}/container/private.pkg.1.0.0.nupkg?sig=abc%2Fdef` });
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  origin = await listen(feed);
  t.after(async () => {
    for (const s of [feed, blob]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
  const ng = await startNugateInProcess(
    {
      upstreams: [
        {
          name: 'private',
          url: `${origin}/v3/index.json`,
          auth: { type: 'basic', usernameEnv: 'FEED_USER', passwordEnv: 'FEED_PASSWORD' },
          headers: { 'X-Tenant': { env: 'FEED_TENANT' } },
        },
      ],
    },
    { env: { FEED_USER: 'nugate', FEED_PASSWORD: PASSWORD, FEED_TENANT: TOKEN } },
  );
  t.after(() => ng.stop());
  const versions = await fetch(`${ng.url}/v3/flatcontainer/private.pkg/index.json`);
  assert.equal(versions.status, 200);
  await versions.arrayBuffer();
  const pkg = await fetch(`${ng.url}/v3/flatcontainer/private.pkg/1.0.0/private.pkg.1.0.0.nupkg`);
  assert.equal(pkg.status, 200);
  assert.deepEqual(Buffer.from(await pkg.arrayBuffer()), nupkg);
  assert.ok(feedSeen.length >= 3);
  assert.equal(blobSeen.length, 1);
  assert.equal(blobSeen[0]?.authorization, undefined, 'no Authorization across the redirect');
  assert.equal(blobSeen[0]?.['x-tenant'], undefined, 'no custom credential header across the redirect');
  const b64 = Buffer.from(`nugate:${PASSWORD}`).toString('base64');
  for (const line of ng.logs) for (const secret of [PASSWORD, TOKEN, b64]) assert.ok(!line.includes(secret), `secret in a log line: ${line}`);
});

test('a missing credential variable fails at start with its name, not at the first request', async () => {
  await assert.rejects(
    startNugateInProcess({ upstreams: [{ name: 'p', url: 'http://127.0.0.1:9/v3/index.json', auth: { type: 'bearer', tokenEnv: 'NUGATE_TEST_UNSET_TOKEN' } }] }, { env: {} }),
    /NUGATE_TEST_UNSET_TOKEN/,
  );
});
