/**
 * The fast hit path answers exactly what the slow path holds, from the raw node request, and passes everything else
 * on: misses, other methods, Range, targets that need normalising, proxy-derived roots, unauthenticated requests.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../../src/config/load.ts';
import { RenderCache, renderKeyOf } from '../../../src/http/render-cache.ts';
import { renderJson } from '../../../src/http/respond.ts';
import { createFastHit } from '../../../src/http/fast-hit.ts';

let now = 1_000_000;
const servers: Array<() => void> = [];
after(() => {
  for (const close of servers) close();
});

async function serveWith(configInput: Record<string, unknown>, seed: (render: RenderCache, root: string) => void, authorized?: (req: IncomingMessage) => boolean): Promise<{ url: string; passed: string[]; recorded: number[] }> {
  const config = parseConfig({ upstreams: [{ name: 'u', url: 'https://feed.example/v3/index.json' }], ...configInput });
  const render = new RenderCache(8 * 1024 * 1024, () => now);
  const passed: string[] = [];
  const recorded: number[] = [];
  const fast = createFastHit({ config, render, now: () => now, ...(authorized ? { authorized } : {}), record: (_req, status) => recorded.push(status) });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (fast(req, res)) return;
    passed.push(`${req.method} ${req.url}`);
    res.writeHead(599);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  seed(render, `${url}/`);
  return { url, passed, recorded };
}

const BODY = '{"versions":["1.0.0"]}';
const held = (render: RenderCache, root: string): void => {
  render.set(renderKeyOf(root, '/v3/flatcontainer/a.b/index.json'), renderJson(BODY, { cacheControl: 'public, max-age=60', state: 'MISS', bornAt: now - 5000 }), 60_000, ['a.b']);
};

test('a held answer is written from the raw request, with its ETag, a 304, HEAD and an Age computed at send time', async () => {
  const { url, passed, recorded } = await serveWith({}, held);
  now += 10_000;
  const res = await fetch(`${url}/v3/flatcontainer/a.b/index.json`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), BODY);
  assert.equal(res.headers.get('x-cache'), 'HIT');
  assert.equal(res.headers.get('age'), '15', 'Age counts from when the answer was fetched, not when it was rendered');
  const etag = res.headers.get('etag') ?? '';
  assert.match(etag, /^"/);
  const again = await fetch(`${url}/v3/flatcontainer/a.b/index.json`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const head = await fetch(`${url}/v3/flatcontainer/a.b/index.json`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(BODY)));
  assert.deepEqual(passed, []);
  assert.deepEqual(recorded, [200, 304, 200], 'every answered request is recorded (metrics)');
});

test('misses, other methods, Range and odd targets go on to the normal path', async () => {
  const { url, passed } = await serveWith({}, held);
  await fetch(`${url}/v3/flatcontainer/other/index.json`);
  await fetch(`${url}/v3/flatcontainer/a.b/index.json`, { method: 'POST' });
  await fetch(`${url}/v3/flatcontainer/a.b/index.json`, { headers: { range: 'bytes=0-1' } });
  // fetch normalises targets itself; node:http sends this one as written (an empty query, which URL drops).
  await new Promise<void>((resolve, reject) => {
    request(`${url}/v3/flatcontainer/a.b/index.json`, { path: '/v3/flatcontainer/a.b/index.json?' }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
  });
  assert.equal(passed.length, 4, passed.join(', '));
});

test('behind a trusted proxy the root comes from forwarded headers: never answered here', async () => {
  const { url, passed } = await serveWith({ trustProxy: true }, held);
  await fetch(`${url}/v3/flatcontainer/a.b/index.json`);
  assert.equal(passed.length, 1);
});

test('under auth.read, only requests with accepted credentials are answered here', async () => {
  const { url, passed } = await serveWith({}, held, (req) => req.headers.authorization === 'Basic ok');
  assert.equal((await fetch(`${url}/v3/flatcontainer/a.b/index.json`)).status, 599, 'passed on, where read auth answers 401');
  assert.equal((await fetch(`${url}/v3/flatcontainer/a.b/index.json`, { headers: { authorization: 'Basic ok' } })).status, 200);
  assert.equal(passed.length, 1);
});

test('a publicUrl fixes the root whatever the Host says', async () => {
  const { url, passed } = await serveWith({ publicUrl: 'https://nuget.example.com' }, (render) => held(render, 'https://nuget.example.com/'));
  assert.equal((await fetch(`${url}/v3/flatcontainer/a.b/index.json`)).status, 200);
  assert.equal(passed.length, 0);
});

test('a package held in memory is served with its strong ETag, immutable caching and no Age', async () => {
  const bytes = Buffer.from('PK\u0003\u0004 not really a zip, but bytes');
  const config = parseConfig({ upstreams: [{ name: 'u', url: 'https://feed.example/v3/index.json' }] });
  const render = new RenderCache(1024 * 1024, () => now);
  const packageHits = new RenderCache(1024 * 1024, () => now);
  const fast = createFastHit({ config, render, packageHits, now: () => now, record: () => undefined });
  const server = createServer((req, res) => {
    if (!fast(req, res)) {
      res.writeHead(599);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const path = '/v3/flatcontainer/a.b/1.0.0/a.b.1.0.0.nupkg';
  packageHits.set(renderKeyOf(`${url}/`, path), { body: new Uint8Array(bytes), etag: '"abc"', contentType: 'application/octet-stream', cacheControl: 'public, max-age=31536000, immutable', state: 'HIT' }, 60_000, ['a.b']);
  const res = await fetch(`${url}${path}`);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  assert.equal(res.headers.get('etag'), '"abc"');
  assert.match(res.headers.get('cache-control') ?? '', /immutable/);
  assert.equal(res.headers.get('age'), null);
  packageHits.evictIds(['a.b']);
  assert.equal((await fetch(`${url}${path}`)).status, 599, 'a publish of the id removes it from the fast path');
});
