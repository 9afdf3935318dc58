/**
 * Publish through nugate against a fake upstream (protocol.md §2.4, §5 items 46–56): a real HTTP server on
 * port 0 in front of createPublishRoutes, pushed to with a chunked multipart body shaped like the NuGet
 * client's (MultipartFormDataContent, Transfer-Encoding: chunked, no Content-Length).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { serve, type HttpBindings } from '@hono/node-server';
import { Agent } from 'undici';
import { pino } from 'pino';
import { zipSync, strToU8 } from 'fflate';
import { parseConfig } from '../../src/config/load.ts';
import { isNugateError } from '../../src/errors.ts';
import { createPublishRoutes, type PublishDeps } from '../../src/publish/routes.ts';
import { upstreamCredentialHeaders } from '../../src/upstream/credentials.ts';
import { startFakePublishUpstream, type FakePublishUpstream } from '../helpers/fake-publish-upstream.ts';

const NEWTONSOFT = '/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg';
const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('base64');
const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function contosoPackage(id = 'Contoso.Widgets', version = '1.2.0'): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>${id}</id><version>${version}</version><authors>Contoso</authors><description>Widgets</description></metadata>
</package>`;
  return Buffer.from(zipSync({ [`${id}.nuspec`]: strToU8(nuspec), 'lib/net8.0/_._': new Uint8Array(0) }));
}

interface ClientAnswer {
  status: number;
  reason: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** Sends a body in several chunks with no Content-Length, so Node uses Transfer-Encoding: chunked. */
function send(url: string, method: string, headers: Record<string, string>, chunks: Buffer[] = []): Promise<ClientAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** The multipart body .NET's MultipartFormDataContent produces for PackageUpdateResource. */
function nugetMultipart(pkg: Buffer): { contentType: string; chunks: Buffer[] } {
  const boundary = randomUUID();
  const head = Buffer.from(
    `--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Disposition: form-data; name=package; filename=package.nupkg; filename*=utf-8''package.nupkg\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunks: Buffer[] = [head];
  for (let i = 0; i < pkg.length; i += 64 * 1024) chunks.push(pkg.subarray(i, i + 64 * 1024));
  chunks.push(tail);
  return { contentType: `multipart/form-data; boundary="${boundary}"`, chunks };
}

function push(url: string, pkg: Buffer, key: string | undefined): Promise<ClientAnswer> {
  const { contentType, chunks } = nugetMultipart(pkg);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': 'NuGet Command Line/6.8.0 (Linux)',
    'x-nuget-protocol-version': '4.1.0',
    'x-nuget-client-version': '6.8.0',
  };
  if (key !== undefined) headers['x-nuget-apikey'] = key;
  return send(url, 'PUT', headers, chunks);
}

interface Nugate {
  base: string;
  evicted: string[];
  logs: string[];
  transferEncodings: Array<string | undefined>;
  tmpDir: string;
  close(): Promise<void>;
}

async function startNugate(fake: FakePublishUpstream, publish: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, upstreamExtra: Record<string, unknown> = {}): Promise<Nugate> {
  const config = parseConfig({ upstreams: [{ name: 'internal', url: `${fake.origin}/v3/index.json`, ...upstreamExtra }], publish });
  const tmpDir = await mkdtemp(join(tmpdir(), 'nugate-publish-'));
  const evicted: string[] = [];
  const logs: string[] = [];
  const transferEncodings: Array<string | undefined> = [];
  const mapping = new Map<string, string[]>([['newtonsoft.json', ['internal']], ['contoso.widgets', ['internal']]]);
  const dispatcher = new Agent();
  const deps: PublishDeps = {
    config,
    // What the upstream's source hands publish: the endpoint and the credentials valid for it.
    target: async (_upstream, kind) => ({
      kind: 'http',
      url: kind === 'package' ? fake.publishUrl : fake.symbolPublishUrl,
      credentials: config.upstreams[0] ? upstreamCredentialHeaders(config.upstreams[0], env) : {},
    }),
    eligible: (id) => mapping.get(id.toLowerCase()) ?? [],
    evict: async (id) => {
      evicted.push(id);
    },
    dispatcher,
    log: pino({ level: 'trace' }, { write: (line: string) => logs.push(line) }),
    tmpDir,
    env,
  };
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.use('*', async (c, next) => {
    transferEncodings.push(c.req.header('transfer-encoding'));
    await next();
  });
  app.route('/v3/package', createPublishRoutes(deps, 'package'));
  app.route('/v3/symbolpackage', createPublishRoutes(deps, 'symbols'));
  app.route('/api/v2/package', createPublishRoutes(deps, 'package'));
  // The error map of src/app.ts: publish refusals are NugateErrors answered there.
  app.onError((err, c) => (isNugateError(err) ? c.text(err.message, err.status as 400, err.headers) : c.text('Internal error', 500)));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    evicted,
    logs,
    transferEncodings,
    tmpDir,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
      await rm(tmpDir, { recursive: true, force: true });
    },
  };
}

describe('publish, passthrough keys', () => {
  let fake: FakePublishUpstream;
  let nugate: Nugate;
  let pkg: Buffer;
  const KEY = 'client-key-7d1c0f6e2b';

  before(async () => {
    pkg = await readFile(NEWTONSOFT);
    fake = await startFakePublishUpstream({ apiKey: KEY, warnings: ['first warning', 'second warning'], createdReason: 'Created by fake' });
    nugate = await startNugate(fake, { upstream: 'internal' });
  });
  after(async () => {
    await nugate.close();
    await fake.close();
  });

  it('forwards a chunked push byte-identical and passes back 201, reason phrase and warnings', async () => {
    const res = await push(`${nugate.base}/v3/package/`, pkg, KEY);
    assert.equal(res.status, 201);
    assert.equal(res.reason, 'Created by fake');
    const warnings = res.rawHeaders.filter((_, i) => i % 2 === 0 && res.rawHeaders[i]?.toLowerCase() === 'x-nuget-warning').length;
    assert.equal(warnings, 2, 'each X-NuGet-Warning keeps its own header line');
    assert.equal(nugate.transferEncodings.at(-1), 'chunked');

    assert.equal(fake.requests.length, 1);
    const got = fake.requests[0];
    assert.ok(got);
    assert.equal(got.method, 'PUT');
    assert.equal(got.url, '/api/v2/package/', 'trailing slash appended to the publish @id');
    assert.equal(got.headers['x-nuget-apikey'], KEY);
    assert.equal(got.headers['x-nuget-protocol-version'], '4.1.0');
    assert.equal(got.headers['x-nuget-client-version'], '6.8.0');
    assert.equal(got.headers['user-agent'], 'NuGet Command Line/6.8.0 (Linux)');
    assert.equal(got.headers['content-length'], String(got.body.length));
    const stored = fake.packages.get('newtonsoft.json/13.0.3');
    assert.ok(stored);
    assert.equal(sha512(stored.bytes), sha512(pkg));
    assert.deepEqual(nugate.evicted, ['Newtonsoft.Json']);
    assert.deepEqual(await readdir(nugate.tmpDir), [], 'temp file removed');
  });

  it('answers 409 on a duplicate, at the mount path without a slash, and does not evict', async () => {
    const res = await push(`${nugate.base}/v3/package`, pkg, KEY);
    assert.equal(res.status, 409);
    assert.match(res.reason, /already exists/);
    assert.deepEqual(nugate.evicted, ['Newtonsoft.Json']);
    assert.deepEqual(await readdir(nugate.tmpDir), []);
  });

  it('serves the /api/v2/package alias', async () => {
    const res = await push(`${nugate.base}/api/v2/package/`, contosoPackage('Contoso.Widgets', '2.0.0'), KEY);
    assert.equal(res.status, 201);
    assert.deepEqual(nugate.evicted.at(-1), 'Contoso.Widgets');
  });

  it('refuses a multipart body without a file part with 400', async () => {
    const before = fake.requests.length;
    const boundary = 'b0undary';
    const res = await send(`${nugate.base}/v3/package/`, 'PUT', { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-nuget-apikey': KEY }, [Buffer.from(`--${boundary}--\r\n`)]);
    assert.equal(res.status, 400);
    assert.match(res.reason, /no package/i);
    assert.equal(fake.requests.length, before);
  });

  it('refuses a file that is not a package with 400', async () => {
    const res = await push(`${nugate.base}/v3/package/`, Buffer.from('definitely not a zip'), KEY);
    assert.equal(res.status, 400);
    assert.match(res.body, /invalid package/i);
    assert.doesNotMatch(res.body, /nugate-publish-|push-.*\.tmp/, 'no temp path in the answer');
    assert.deepEqual(await readdir(nugate.tmpDir), []);
  });

  it('refuses a non-multipart body with 400', async () => {
    const res = await send(`${nugate.base}/v3/package/`, 'PUT', { 'content-type': 'application/octet-stream', 'x-nuget-apikey': KEY }, [pkg.subarray(0, 1000)]);
    assert.equal(res.status, 400);
  });

  it('forwards DELETE with id and version exactly as typed, and evicts', async () => {
    const res = await send(`${nugate.base}/v3/package/Newtonsoft.JSON/13.0.3.0`, 'DELETE', { 'x-nuget-apikey': KEY });
    assert.equal(res.status, 200);
    const got = fake.requests.at(-1);
    assert.equal(got?.method, 'DELETE');
    assert.equal(got?.url, '/api/v2/package/Newtonsoft.JSON/13.0.3.0');
    assert.equal(got?.headers['x-nuget-apikey'], KEY);
    assert.equal(fake.packages.get('newtonsoft.json/13.0.3')?.listed, false);
    assert.equal(nugate.evicted.at(-1), 'Newtonsoft.JSON');
  });

  it('forwards POST (relist)', async () => {
    const res = await send(`${nugate.base}/v3/package/newtonsoft.json/13.0.3/`, 'POST', { 'x-nuget-apikey': KEY });
    assert.equal(res.status, 200);
    assert.equal(fake.requests.at(-1)?.url, '/api/v2/package/newtonsoft.json/13.0.3');
    assert.equal(fake.packages.get('newtonsoft.json/13.0.3')?.listed, true);
  });

  it('passes a 404 for an unknown package through and does not evict', async () => {
    const evictions = nugate.evicted.length;
    const res = await send(`${nugate.base}/v3/package/No.Such.Package/1.0.0`, 'DELETE', { 'x-nuget-apikey': KEY });
    assert.equal(res.status, 404);
    assert.equal(nugate.evicted.length, evictions);
  });

  it('refuses an invalid id or version on DELETE with 400 without asking the upstream', async () => {
    const before = fake.requests.length;
    assert.equal((await send(`${nugate.base}/v3/package/bad%2Fid/1.0.0`, 'DELETE', { 'x-nuget-apikey': KEY })).status, 400);
    assert.equal((await send(`${nugate.base}/v3/package/Good.Id/not-a-version`, 'DELETE', { 'x-nuget-apikey': KEY })).status, 400);
    assert.equal(fake.requests.length, before);
  });

  it('passes the upstream 403 for a wrong key through, with no challenge added', async () => {
    const res = await push(`${nugate.base}/v3/package/`, contosoPackage('Contoso.Widgets', '3.0.0'), 'wrong-key-123');
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.match(res.reason, /API key is invalid/);
  });

  it('passes an upstream 500 through once, never replaying the push', async () => {
    const before = fake.requests.length;
    const evictions = nugate.evicted.length;
    fake.queue.push({ status: 500, reason: 'Upstream Broke', body: 'boom' });
    const res = await push(`${nugate.base}/v3/package/`, contosoPackage('Contoso.Widgets', '4.0.0'), KEY);
    assert.equal(res.status, 500);
    assert.equal(res.reason, 'Upstream Broke');
    assert.equal(res.body, 'boom');
    assert.equal(fake.requests.length, before + 1);
    assert.equal(nugate.evicted.length, evictions);
  });

  it('forwards a symbol push to the SymbolPackagePublish resource', async () => {
    const res = await push(`${nugate.base}/v3/symbolpackage/`, contosoPackage('Contoso.Widgets', '5.0.0'), KEY);
    assert.equal(res.status, 201);
    assert.equal(fake.requests.at(-1)?.url, '/api/v2/symbolpackage/');
  });

  it('never logs the client key', () => {
    assert.ok(nugate.logs.length > 0);
    for (const line of nugate.logs) assert.ok(!line.includes(KEY), `key leaked in log: ${line}`);
    assert.ok(nugate.logs.some((l) => l.includes('[redacted]')), 'the logged headers are redacted, not omitted');
  });
});

describe('publish, oversized package', () => {
  let fake: FakePublishUpstream;
  let nugate: Nugate;

  before(async () => {
    fake = await startFakePublishUpstream();
    nugate = await startNugate(fake, { upstream: 'internal', maxSize: '100KB' });
  });
  after(async () => {
    await nugate.close();
    await fake.close();
  });

  it('answers 413 with a reason phrase after reading the body, without a reset', async () => {
    const pkg = await readFile(NEWTONSOFT);
    const res = await push(`${nugate.base}/v3/package/`, pkg, 'any');
    assert.equal(res.status, 413);
    assert.match(res.reason, /too large/i);
    assert.notEqual(res.headers.connection, 'close', 'the body was drained, so the connection stays usable');
    assert.equal(fake.requests.length, 0);
    assert.deepEqual(await readdir(nugate.tmpDir), []);
  });
});

describe('publish, mapped keys', () => {
  let fake: FakePublishUpstream;
  let nugate: Nugate;
  let pkg: Buffer;
  const UPSTREAM_SECRET = 'upstream-secret-4f9a8b7c6d';
  const CI_KEY = 'ci-client-key-a1b2c3d4';
  const CONTOSO_KEY = 'contoso-client-key-e5f6a7b8';

  before(async () => {
    pkg = await readFile(NEWTONSOFT);
    fake = await startFakePublishUpstream({ apiKey: UPSTREAM_SECRET });
    nugate = await startNugate(
      fake,
      {
        keyMode: 'mapped',
        keys: [
          { name: 'ci', sha256: sha256hex(CI_KEY) },
          { name: 'contoso', sha256: sha256hex(CONTOSO_KEY), patterns: ['Contoso.*'] },
        ],
      },
      { NUGATE_INTERNAL_KEY: UPSTREAM_SECRET },
      { apiKeyEnv: 'NUGATE_INTERNAL_KEY' },
    );
  });
  after(async () => {
    await nugate.close();
    await fake.close();
  });

  it('refuses a wrong key with 403 and no challenge, before the upstream is asked', async () => {
    const res = await push(`${nugate.base}/v3/package/`, pkg, 'not-a-key');
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(fake.requests.length, 0);
  });

  it('refuses a missing key with 401 (as nuget.org does), no challenge, and closes the connection', async () => {
    const res = await push(`${nugate.base}/v3/package/`, pkg, undefined);
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(res.headers.connection, 'close');
    assert.match(res.reason, /API key is required/);
    assert.equal(fake.requests.length, 0);
  });

  it('refuses a key scoped to Contoso.* for Newtonsoft.Json', async () => {
    const res = await push(`${nugate.base}/v3/package/`, pkg, CONTOSO_KEY);
    assert.equal(res.status, 403);
    assert.match(res.reason, /Newtonsoft\.Json/);
    assert.equal(fake.requests.length, 0);
    const del = await send(`${nugate.base}/v3/package/Newtonsoft.Json/13.0.3`, 'DELETE', { 'x-nuget-apikey': CONTOSO_KEY });
    assert.equal(del.status, 403);
    assert.equal(fake.requests.length, 0);
    assert.deepEqual(await readdir(nugate.tmpDir), []);
  });

  it('lets the scoped key push a matching id', async () => {
    const res = await push(`${nugate.base}/v3/package/`, contosoPackage(), CONTOSO_KEY);
    assert.equal(res.status, 201);
    assert.equal(fake.requests.at(-1)?.headers['x-nuget-apikey'], UPSTREAM_SECRET);
  });

  it('sends the upstream key from the environment, never the client key', async () => {
    const res = await push(`${nugate.base}/v3/package/`, pkg, CI_KEY);
    assert.equal(res.status, 201);
    const got = fake.requests.at(-1);
    assert.equal(got?.headers['x-nuget-apikey'], UPSTREAM_SECRET);
    assert.equal(sha512(fake.packages.get('newtonsoft.json/13.0.3')?.bytes ?? Buffer.alloc(0)), sha512(pkg));
    const del = await send(`${nugate.base}/v3/package/Newtonsoft.Json/13.0.3`, 'DELETE', { 'x-nuget-apikey': CI_KEY });
    assert.equal(del.status, 200);
    assert.equal(fake.requests.at(-1)?.headers['x-nuget-apikey'], UPSTREAM_SECRET);
  });

  it('leaks no client key upstream and no secret into the logs', () => {
    for (const r of fake.requests) {
      const wire = `${r.rawHeaders.join('\n')}\n${r.body.toString('latin1')}`;
      for (const k of [CI_KEY, CONTOSO_KEY]) assert.ok(!wire.includes(k), `client key reached the upstream: ${r.method} ${r.url}`);
    }
    assert.ok(nugate.logs.length > 0);
    for (const line of nugate.logs) {
      for (const s of [CI_KEY, CONTOSO_KEY, UPSTREAM_SECRET]) assert.ok(!line.includes(s), `secret in log: ${line}`);
    }
  });
});

describe('publish, mapped keys without an upstream key', () => {
  it('answers 500 naming no secret when apiKeyEnv is unset, and logs why', async () => {
    const fake = await startFakePublishUpstream();
    const key = 'some-client-key-0000';
    const nugate = await startNugate(fake, { keyMode: 'mapped', keys: [{ name: 'ci', sha256: sha256hex(key) }] }, {}, { apiKeyEnv: 'MISSING_KEY_ENV' });
    try {
      const res = await push(`${nugate.base}/v3/package/`, contosoPackage(), key);
      assert.equal(res.status, 500);
      assert.match(res.reason, /misconfigured/);
      assert.equal(fake.requests.length, 0);
      assert.ok(nugate.logs.some((l) => l.includes('MISSING_KEY_ENV')));
      assert.deepEqual(await readdir(nugate.tmpDir), []);
    } finally {
      await nugate.close();
      await fake.close();
    }
  });
});

describe('publish, upstream credentials', () => {
  const PASSWORD = 'feed-password-9c8b7a6f';
  const TENANT = 'tenant-secret-1a2b3c4d';
  const env = { FEED_USER: 'nugate', FEED_PASSWORD: PASSWORD, FEED_TENANT: TENANT };
  const auth = { auth: { type: 'basic', usernameEnv: 'FEED_USER', passwordEnv: 'FEED_PASSWORD' }, headers: { 'X-Tenant': { env: 'FEED_TENANT' } } };
  const UPSTREAM_KEY = 'upstream-key-88';
  /** nugate in mapped key mode: `clientKey` is its own key, the upstream's key comes from UPSTREAM_PUSH_KEY. */
  const startMapped = (fake: FakePublishUpstream, clientKey: string, upstreamExtra: Record<string, unknown> = {}): Promise<Nugate> =>
    startNugate(
      fake,
      { upstream: 'internal', keyMode: 'mapped', keys: [{ name: 'ci', sha256: sha256hex(clientKey) }] },
      { ...env, UPSTREAM_PUSH_KEY: UPSTREAM_KEY },
      { ...auth, apiKeyEnv: 'UPSTREAM_PUSH_KEY', ...upstreamExtra },
    );

  it('in passthrough mode sends no nugate credentials: the client key is the only authority', async () => {
    const fake = await startFakePublishUpstream();
    const nugate = await startNugate(fake, { upstream: 'internal' }, env, auth);
    try {
      const res = await push(`${nugate.base}/v3/package/`, contosoPackage(), 'k-12345');
      assert.equal(res.status, 201);
      const got = fake.requests.at(-1);
      assert.equal(got?.headers.authorization, undefined);
      assert.equal(got?.headers['x-tenant'], undefined);
      assert.equal(got?.headers['x-nuget-apikey'], 'k-12345');
    } finally {
      await nugate.close();
      await fake.close();
    }
  });

  it('in mapped mode sends the upstream credentials to a publish URL on its origin, and logs them redacted', async () => {
    const fake = await startFakePublishUpstream();
    const clientKey = 'client-key-77';
    const nugate = await startMapped(fake, clientKey);
    try {
      const res = await push(`${nugate.base}/v3/package/`, contosoPackage(), clientKey);
      assert.equal(res.status, 201);
      const got = fake.requests.at(-1);
      assert.equal(got?.headers.authorization, `Basic ${Buffer.from(`nugate:${PASSWORD}`).toString('base64')}`);
      assert.equal(got?.headers['x-tenant'], TENANT);
      const b64 = Buffer.from(`nugate:${PASSWORD}`).toString('base64');
      for (const line of nugate.logs) for (const s of [PASSWORD, TENANT, b64]) assert.ok(!line.includes(s), `secret in log: ${line}`);
    } finally {
      await nugate.close();
      await fake.close();
    }
  });

  it('sends the credentials the target gives for a publish URL on another origin than the service index', async () => {
    const fake = await startFakePublishUpstream();
    const nugate = await startMapped(fake, 'k-12345', { url: 'https://feed.example.com/v3/index.json' });
    try {
      const res = await push(`${nugate.base}/v3/package/`, contosoPackage(), 'k-12345');
      assert.equal(res.status, 201);
      const got = fake.requests.at(-1);
      assert.equal(got?.headers.authorization, `Basic ${Buffer.from(`nugate:${PASSWORD}`).toString('base64')}`);
      assert.equal(got?.headers['x-tenant'], TENANT);
      assert.equal(got?.headers['x-nuget-apikey'], UPSTREAM_KEY);
    } finally {
      await nugate.close();
      await fake.close();
    }
  });
});
