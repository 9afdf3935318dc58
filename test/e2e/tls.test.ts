/**
 * HTTPS served by nugate itself (`listen.tls`, issue 12): the real .NET client restores through it over TLS,
 * trusting a test CA made for this test. On Linux .NET builds chains with OpenSSL's trust store, which honours
 * SSL_CERT_FILE (a PEM bundle) and SSL_CERT_DIR: set on the dotnet process only, nothing on the machine changes.
 * Without it, the same restore fails on the certificate: the trust really comes from the variable.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createApp } from '../../src/app.ts';
import { listen } from '../../src/server.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { describeResult, makeIsolatedDotnet, requestedUrls } from '../helpers/dotnet.ts';
import { writeNupkg } from '../helpers/e2e-nupkg.ts';
import { startStaticFeed } from '../helpers/static-feed.ts';
import { createTestCa } from '../helpers/test-ca.ts';

test('dotnet restores through nugate over HTTPS, trusting the test CA through SSL_CERT_FILE', { timeout: 300_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-tls-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const ca = await createTestCa();
  t.after(() => ca.cleanup());
  const pkg = await writeNupkg(work, { id: 'Contoso.Tls', version: '1.2.3', description: 'served over https' });
  const feed = await startStaticFeed({ packages: [], extraPackages: [{ path: pkg.path }] });
  t.after(() => feed.close());

  const config = parseConfig({ listen: { tls: { cert: ca.serverCert, key: ca.serverKey } }, upstreams: [{ name: 'feed', url: feed.indexUrl }], cache: { dir: join(work, 'cache') } });
  const nugate = await createApp({ config, log: createLogger('silent') });
  const running = await listen(nugate, '127.0.0.1', 0);
  t.after(() => running.stop(1000));
  assert.match(running.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const base = running.url.replace('127.0.0.1', 'localhost');

  const dotnet = await makeIsolatedDotnet({ sources: [{ name: 'nugate', url: `${base}/v3/index.json` }] });
  t.after(() => dotnet.cleanup());
  const project = await dotnet.writeProject('App', [{ id: 'Contoso.Tls', version: '1.2.3' }]);

  // Without the CA the client refuses nugate's certificate.
  const refused = await dotnet.run(['restore', project, '--configfile', dotnet.configFile], { timeoutMs: 180_000, env: { SSL_CERT_FILE: join(work, 'empty.pem'), SSL_CERT_DIR: join(work, 'none') } });
  assert.notEqual(refused.code, 0, describeResult(refused));
  assert.match(refused.stdout + refused.stderr, /NU1301|SSL|certificate/i, describeResult(refused));

  const r = await dotnet.run(['restore', project, '--configfile', dotnet.configFile, '-v', 'n'], { timeoutMs: 180_000, env: { SSL_CERT_FILE: ca.caCert } });
  assert.equal(r.code, 0, describeResult(r));
  const urls = requestedUrls(r);
  assert.ok(urls.length > 0 && urls.every((u) => u.startsWith(`${base}/`)), `requests: ${urls.join(', ')}`);
  assert.ok(feed.count('contoso.tls') >= 1, 'the package came from the upstream through nugate');
});
