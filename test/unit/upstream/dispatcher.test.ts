/**
 * The per-upstream dispatcher (src/upstream/http.ts): its connection limit holds under a burst, connections are
 * reused, HTTP/2 is negotiated when offered (directly and through a CONNECT proxy), an upstream's own CA bundle is
 * trusted (and NODE_EXTRA_CA_CERTS still is), and the environment's proxy rules are applied.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { createDispatcher, routeOf, trustedCa, withoutCredentials } from '../../../src/upstream/http.ts';
import { createTestCa, type TestCa } from '../../helpers/test-ca.ts';
import { startConnectProxy } from '../../helpers/connect-proxy.ts';

let ca: TestCa;
before(async () => {
  ca = await createTestCa();
});
after(async () => {
  await ca.cleanup();
});

function listen(server: Server | Http2SecureServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server | Http2SecureServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function get(d: Dispatcher, origin: string, path = '/'): Promise<{ status: number; body: string }> {
  const res = await d.request({ origin, path, method: 'GET' });
  return { status: res.statusCode, body: await res.body.text() };
}

test('a burst of 60 requests never opens more than the configured connections, and the pool reports each one', async () => {
  let open = 0;
  let peak = 0;
  let accepted = 0;
  const server = createServer((_req, res) => setTimeout(() => res.end('ok'), 20));
  server.on('connection', (s: Socket) => {
    accepted++;
    open++;
    peak = Math.max(peak, open);
    s.on('close', () => open--);
  });
  const port = await listen(server);
  const events: string[] = [];
  const d = createDispatcher({ connections: 4, onConnection: (e) => events.push(e) });
  try {
    const all = await Promise.all(Array.from({ length: 60 }, () => get(d, `http://127.0.0.1:${port}`)));
    assert.ok(all.every((r) => r.status === 200));
    assert.ok(peak <= 4, `peak ${peak} connections`);
    assert.equal(accepted, 4, 'every connection was kept alive and reused');
    assert.equal(events.filter((e) => e === 'open').length, 4);
  } finally {
    await d.close();
    await close(server);
  }
});

test('sequential requests reuse one keep-alive connection', async () => {
  let accepted = 0;
  const server = createServer((_req, res) => res.end('ok'));
  server.on('connection', () => accepted++);
  const port = await listen(server);
  const d = createDispatcher();
  try {
    for (let i = 0; i < 10; i++) {
      assert.equal((await get(d, `http://127.0.0.1:${port}`)).status, 200);
      // The body's end reaches us a tick before undici marks the connection free; nugate's requests are never
      // back-to-back within one tick, and without this a second connection is opened.
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(accepted, 1);
  } finally {
    await d.close();
    await close(server);
  }
});

async function h2Server(): Promise<{ server: Http2SecureServer; port: number; versions: string[] }> {
  const versions: string[] = [];
  const server = createSecureServer({ cert: ca.certPem, key: ca.keyPem, allowHTTP1: true }, (req, res) => {
    versions.push(req.httpVersion);
    res.end('ok');
  });
  return { server, port: await listen(server), versions };
}

test('HTTP/2 is used when the upstream offers it, with the upstream CA bundle', async () => {
  const { server, port, versions } = await h2Server();
  const d = createDispatcher({ ca: await trustedCa(ca.caCert, {}) });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(d, `https://localhost:${port}`)).body, 'ok');
    assert.deepEqual(versions, ['2.0', '2.0', '2.0']);
  } finally {
    await d.close();
    await close(server);
  }
});

test('HTTP/2 through a CONNECT proxy (explicit proxy with credentials)', async () => {
  const { server, port, versions } = await h2Server();
  const proxy = await startConnectProxy();
  const d = createDispatcher({ ca: await trustedCa(ca.caCert, {}), proxy: `http://u%40corp:p%3Ass@127.0.0.1:${proxy.port}` });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await get(d, `https://localhost:${port}`)).body, 'ok');
    assert.deepEqual(versions, ['2.0', '2.0', '2.0']);
    assert.equal(proxy.connects.length, 1, 'one tunnel, multiplexed');
    assert.equal(proxy.connects[0]?.target, `localhost:${port}`);
    assert.equal(proxy.connects[0]?.proxyAuthorization, `Basic ${Buffer.from('u@corp:p:ss').toString('base64')}`);
  } finally {
    await d.close();
    await proxy.close();
    await close(server);
  }
});

test('an HTTPS upstream signed by an unknown CA is refused without its bundle', async () => {
  const server = createHttpsServer({ cert: ca.certPem, key: ca.keyPem }, (_req, res) => res.end('ok'));
  const port = await listen(server);
  const d = createDispatcher();
  try {
    await assert.rejects(get(d, `https://localhost:${port}`), (err: NodeJS.ErrnoException) => /CERT|SIGNATURE|ISSUER/.test(err.code ?? ''));
  } finally {
    await d.close();
    await close(server);
  }
});

test('NODE_EXTRA_CA_CERTS is trusted by the default dispatcher, and kept beside an upstream bundle', async () => {
  const server = createHttpsServer({ cert: ca.certPem, key: ca.keyPem }, (_req, res) => res.end('ok'));
  const port = await listen(server);
  const other = await createTestCa('another CA');
  // Node reads NODE_EXTRA_CA_CERTS at start-up only: a child process with it set.
  const script = join(ca.dir, 'probe.mts');
  const httpTs = new URL('../../../src/upstream/http.ts', import.meta.url).pathname;
  await writeFile(
    script,
    `import { createDispatcher, trustedCa } from ${JSON.stringify(httpTs)};
const origin = 'https://localhost:${port}';
const plain = createDispatcher();
const withOther = createDispatcher({ ca: await trustedCa(${JSON.stringify(other.caCert)}, process.env) });
for (const d of [plain, withOther]) { const r = await d.request({ origin, path: '/', method: 'GET' }); process.stdout.write(await r.body.text() + '\\n'); await d.close(); }
`,
  );
  try {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    assert.equal(out, 'ok\nok\n');
  } finally {
    await other.cleanup();
    await close(server);
  }
});

test('routeOf: lowercase proxy variables win, NO_PROXY matches hosts, subdomains and ports, * disables', () => {
  const env = { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://user:pw@lower:3128', HTTP_PROXY: 'http://plain:3128', NO_PROXY: 'internal.corp,.example.org,10.0.0.1:8080' };
  assert.deepEqual(routeOf('https://api.nuget.org/v3/index.json', { env }), { kind: 'proxy', via: 'http://lower:3128' });
  assert.deepEqual(routeOf('http://feed.local/v3/index.json', { env }), { kind: 'proxy', via: 'http://plain:3128' });
  assert.deepEqual(routeOf('https://internal.corp/v3/index.json', { env }), { kind: 'direct' });
  assert.deepEqual(routeOf('https://nuget.example.org/v3/index.json', { env }), { kind: 'direct' });
  assert.deepEqual(routeOf('http://10.0.0.1:8080/v3/index.json', { env }), { kind: 'direct' });
  assert.deepEqual(routeOf('http://10.0.0.1:9090/v3/index.json', { env }), { kind: 'proxy', via: 'http://plain:3128' });
  assert.deepEqual(routeOf('https://x.test/', { env: { ...env, NO_PROXY: '*' } }), { kind: 'direct' });
  assert.deepEqual(routeOf('https://x.test/', { env, proxy: 'http://a:b@explicit:8080' }), { kind: 'proxy', via: 'http://explicit:8080' });
  assert.deepEqual(routeOf('https://x.test/', { env: {} }), { kind: 'direct' });
  assert.equal(withoutCredentials('http://user:secret@proxy:3128/'), 'http://proxy:3128');
});
