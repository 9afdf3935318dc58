/**
 * Publish against hostile clients and a split upstream (issue 8), through the whole app on 127.0.0.1:0:
 * - a push without an API key is refused from its headers (401, Connection: close): nothing is spooled and the
 *   client gets the answer long before it could finish a 20 MB upload;
 * - with auth.read on, an unauthenticated push gets read auth's 401 challenge before anything is spooled;
 * - a push body that stalls is cut off after publish.idleTimeout (408) and its temp file removed;
 * - in mapped key mode, a publish endpoint on another origin than the service index receives the upstream's
 *   credentials, and no other origin does (a redirect from it is relayed, never followed), with no upstream
 *   address in what the client is told.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';

const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');
const MB = 1024 * 1024;

function nupkg(id: string, version: string): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata><id>${id}</id><version>${version}</version><authors>Contoso</authors><description>Test</description></metadata>
</package>`;
  return Buffer.from(zipSync({ [`${id}.nuspec`]: strToU8(nuspec), 'lib/net8.0/_._': new Uint8Array(0) }));
}

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
}

interface Answer {
  status: number;
  reason?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** An HTTP server on 127.0.0.1:0 that records every request (and how many body bytes it read) and answers by rule. */
interface Recorder {
  origin: string;
  requests: Recorded[];
  close(): Promise<void>;
}

async function startRecorder(answer: (req: Recorded) => Answer): Promise<Recorder> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes: 0 };
    requests.push(rec);
    req.on('data', (c: Buffer) => (rec.bytes += c.length));
    req.on('end', () => {
      const a = answer(rec);
      res.writeHead(a.status, a.reason ?? '', a.headers ?? {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const serviceIndex = (publishUrl: string): Answer => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ version: '3.0.0', resources: [{ '@id': publishUrl, '@type': 'PackagePublish/2.0.0' }] }),
});

/** A fake feed whose service index and publish endpoint share one origin; pushes answer 201. */
function sameOriginFeed(): Promise<Recorder> {
  let origin = '';
  return startRecorder((r) => (r.url === '/v3/index.json' ? serviceIndex(`${origin}/api/v2/package`) : { status: 201, reason: 'Created' })).then((rec) => {
    origin = rec.origin;
    return rec;
  });
}

interface RawAnswer {
  status: number;
  headers: string;
  /** Body bytes the client had written when the answer's headers arrived. */
  writtenAtAnswer: number;
  /** Body bytes written in all, until the server closed or the body was complete. */
  writtenTotal: number;
  /** The server closed the connection. */
  closedByServer: boolean;
  ms: number;
}

interface RawPush {
  path: string;
  headers: Record<string, string>;
  /** Body bytes to offer; the client writes as fast as the socket takes them, until the answer. */
  size: number;
  /** Body bytes after which the client stops writing without ending the request (a stalled upload). */
  stallAfter?: number;
  /** Called between writes, e.g. to watch the temp dir. */
  onWrite?: () => void;
}

/**
 * A push over a raw socket, so the test sees exactly when the answer arrived relative to the upload, and
 * whether the server cut the connection. The body is chunked multipart, as the NuGet client sends it.
 */
function rawPush(base: string, push: RawPush): Promise<RawAnswer> {
  const { port } = new URL(base);
  const boundary = randomUUID();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    let written = 0;
    let writtenAtAnswer = -1;
    let status = 0;
    let headerText = '';
    let stopped = false;
    const finish = (closedByServer: boolean): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(bound);
      socket.destroy();
      if (status === 0) return reject(new Error(`no answer (closed by server: ${closedByServer}, written ${written})`));
      resolve({ status, headers: headerText, writtenAtAnswer, writtenTotal: written, closedByServer, ms: Date.now() - started });
    };
    // "Does not hang": generous, far above what any answer here should take.
    const bound = setTimeout(() => finish(false), 15_000);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (status === 0 && end >= 0) {
        headerText = received.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headerText)?.[1] ?? -1);
        writtenAtAnswer = written;
      }
    });
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once('connect', async () => {
      const head = [`PUT ${push.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Content-Type: multipart/form-data; boundary="${boundary}"`, 'Transfer-Encoding: chunked'];
      for (const [k, v] of Object.entries(push.headers)) head.push(`${k}: ${v}`);
      socket.write(`${head.join('\r\n')}\r\n\r\n`);
      const part = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name=package; filename=package.nupkg\r\nContent-Type: application/octet-stream\r\n\r\n`);
      const chunk = (data: Buffer): Buffer => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
      socket.write(chunk(part));
      const piece = Buffer.alloc(64 * 1024, 7);
      while (!stopped && status === 0 && written < push.size) {
        if (push.stallAfter !== undefined && written >= push.stallAfter) return;
        push.onWrite?.();
        const ok = socket.write(chunk(piece));
        written += piece.length;
        if (!ok) await new Promise<void>((r) => socket.once('drain', () => r()).once('close', () => r()));
      }
      if (!stopped && status === 0) socket.write(`${chunk(Buffer.from(`\r\n--${boundary}--\r\n`)).toString('latin1')}0\r\n\r\n`);
    });
  });
}

/** Lists the publish temp dir many times during a push; the most files ever seen. */
function tempWatcher(nugate: Running): { dir: string; poll: () => void; max: () => number; stop: () => void } {
  const dir = join(nugate.cacheDir, 'tmp', 'publish');
  let most = 0;
  const look = (): void => {
    readdir(dir).then(
      (names) => (most = Math.max(most, names.length)),
      () => {},
    );
  };
  const timer = setInterval(look, 2);
  return { dir, poll: look, max: () => most, stop: () => clearInterval(timer) };
}

describe('publish: a push without an API key (passthrough)', () => {
  let feed: Recorder;
  let nugate: Running;
  before(async () => {
    feed = await sameOriginFeed();
    nugate = await startNugateInProcess({ upstreams: [{ name: 'feed', url: `${feed.origin}/v3/index.json` }], publish: { upstream: 'feed' } });
  });
  after(async () => {
    await nugate.stop();
    await feed.close();
  });

  it('is refused with 401 and Connection: close before the body is read: nothing spooled, the 20 MB upload cut short', async (t) => {
    const watch = tempWatcher(nugate);
    const res = await rawPush(nugate.url, { path: '/v3/package/', headers: {}, size: 20 * MB, onWrite: watch.poll });
    watch.stop();
    t.diagnostic(`answer after ${res.writtenAtAnswer} body bytes, ${res.writtenTotal} written in all, ${res.ms} ms`);
    assert.equal(watch.max(), 0, 'a temp file appeared while the refused push was uploading');
    assert.ok(res.writtenAtAnswer < 20 * MB, `the answer came only after the whole body (${res.writtenAtAnswer} bytes)`);
    // Loopback socket buffers take a few MB before the client blocks; the server itself reads none of it.
    assert.ok(res.writtenTotal < 8 * MB, `the server took ${res.writtenTotal} bytes of a refused upload`);
    assert.ok(res.closedByServer, 'the connection is closed, not drained');
    assert.equal(res.status, 401);
    assert.match(res.headers, /^connection: close$/im);
    assert.doesNotMatch(res.headers, /^www-authenticate:/im, 'no Basic challenge for a missing API key');
    assert.deepEqual(await readdir(watch.dir), []);
    assert.equal(feed.requests.filter((r) => r.method !== 'GET').length, 0, 'nothing reached the upstream');
  });

  it('still takes a push that carries a key', async () => {
    const pkg = nupkg('Contoso.Keyed', '1.0.0');
    const res = await fetch(`${nugate.url}/v3/package/`, { method: 'PUT', headers: { 'x-nuget-apikey': 'client-key-1234' }, body: multipart(pkg) });
    assert.equal(res.status, 201);
    const put = feed.requests.find((r) => r.method === 'PUT');
    assert.equal(put?.headers['x-nuget-apikey'], 'client-key-1234');
  });
});

/** A one-part multipart body as FormData, which fetch sends with its own boundary. */
function multipart(pkg: Buffer): FormData {
  const form = new FormData();
  form.append('package', new Blob([new Uint8Array(pkg)], { type: 'application/octet-stream' }), 'package.nupkg');
  return form;
}

describe('publish with auth.read on', () => {
  let feed: Recorder;
  let nugate: Running;
  const basic = `Basic ${Buffer.from('reader:reader-pass-9').toString('base64')}`;
  before(async () => {
    feed = await sameOriginFeed();
    nugate = await startNugateInProcess({
      upstreams: [{ name: 'feed', url: `${feed.origin}/v3/index.json` }],
      publish: { upstream: 'feed' },
      auth: { read: true, users: [{ username: 'reader', passwordSha256: sha256hex('reader-pass-9') }], realm: 'nugate-test' },
    });
  });
  after(async () => {
    await nugate.stop();
    await feed.close();
  });

  it('answers an unauthenticated push with the Basic challenge before anything is spooled', async () => {
    const watch = tempWatcher(nugate);
    // An upstream key, but no credentials nugate knows: in passthrough mode nugate cannot judge the key.
    const res = await rawPush(nugate.url, { path: '/v3/package/', headers: { 'X-NuGet-ApiKey': 'upstream-key-5678' }, size: 20 * MB, onWrite: watch.poll });
    watch.stop();
    assert.equal(watch.max(), 0, 'a temp file appeared for an unauthenticated push');
    assert.ok(res.writtenAtAnswer < 20 * MB, `the answer came only after the whole body (${res.writtenAtAnswer} bytes)`);
    assert.equal(res.status, 401);
    assert.match(res.headers, /^www-authenticate: Basic realm="nugate-test"$/im);
    assert.match(res.headers, /^connection: close$/im);
    assert.ok(res.closedByServer);
    assert.equal(feed.requests.filter((r) => r.method !== 'GET').length, 0);
  });

  it('takes the push once the client authenticates', async () => {
    const res = await fetch(`${nugate.url}/v3/package/`, { method: 'PUT', headers: { 'x-nuget-apikey': 'upstream-key-5678', authorization: basic }, body: multipart(nupkg('Contoso.Authed', '1.0.0')) });
    assert.equal(res.status, 201);
    assert.equal(feed.requests.filter((r) => r.method === 'PUT').length, 1);
  });
});

describe('publish: a push body that stalls', () => {
  let feed: Recorder;
  let nugate: Running;
  before(async () => {
    feed = await sameOriginFeed();
    nugate = await startNugateInProcess({ upstreams: [{ name: 'feed', url: `${feed.origin}/v3/index.json` }], publish: { upstream: 'feed', idleTimeout: 300 } });
  });
  after(async () => {
    await nugate.stop();
    await feed.close();
  });

  it('is cut off with 408 after publish.idleTimeout, its temp file removed and the connection closed', async () => {
    const watch = tempWatcher(nugate);
    const res = await rawPush(nugate.url, { path: '/v3/package/', headers: { 'X-NuGet-ApiKey': 'client-key-1234' }, size: 20 * MB, stallAfter: 256 * 1024, onWrite: watch.poll });
    watch.stop();
    assert.equal(res.status, 408);
    assert.ok(res.ms < 5000, `the answer took ${res.ms} ms`);
    assert.match(res.headers, /^connection: close$/im);
    assert.ok(res.closedByServer, 'the connection is freed');
    assert.ok(watch.max() > 0, 'the push was being spooled (the test reached the stall)');
    assert.deepEqual(await readdir(watch.dir), [], 'the temp file is removed');
    assert.equal(feed.requests.filter((r) => r.method !== 'GET').length, 0);
  });
});

describe('publish in mapped mode to an endpoint on another origin than the service index', () => {
  const TOKEN = 'feed-bearer-token-5b4c3d2e';
  const UPSTREAM_KEY = 'upstream-push-key-1f2e3d';
  const CLIENT_KEY = 'nugate-client-key-0a9b8c';
  let index: Recorder;
  let publish: Recorder;
  let elsewhere: Recorder;
  let nugate: Running;
  const canned: Answer[] = [];

  before(async () => {
    elsewhere = await startRecorder(() => ({ status: 201 }));
    publish = await startRecorder(() => canned.shift() ?? { status: 201, reason: 'Created' });
    index = await startRecorder(() => serviceIndex(`${publish.origin}/api/v2/package`));
    nugate = await startNugateInProcess(
      {
        upstreams: [{ name: 'feed', url: `${index.origin}/v3/index.json`, auth: { type: 'bearer', tokenEnv: 'FEED_TOKEN' }, apiKeyEnv: 'FEED_PUSH_KEY' }],
        publish: { upstream: 'feed', keyMode: 'mapped', keys: [{ name: 'ci', sha256: sha256hex(CLIENT_KEY) }] },
      },
      { env: { FEED_TOKEN: TOKEN, FEED_PUSH_KEY: UPSTREAM_KEY } },
    );
  });
  after(async () => {
    await nugate.stop();
    await Promise.all([index.close(), publish.close(), elsewhere.close()]);
  });

  it("sends the upstream's credentials and key to the publish origin", async () => {
    const res = await fetch(`${nugate.url}/v3/package/`, { method: 'PUT', headers: { 'x-nuget-apikey': CLIENT_KEY }, body: multipart(nupkg('Contoso.Split', '1.0.0')) });
    assert.equal(res.status, 201);
    const put = publish.requests.find((r) => r.method === 'PUT');
    assert.ok(put, 'the push reached the publish origin');
    assert.equal(put.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(put.headers['x-nuget-apikey'], UPSTREAM_KEY);
  });

  it('follows no redirect from the publish endpoint and tells the client no upstream address', async () => {
    const port = new URL(publish.origin).port;
    canned.push({
      status: 307,
      reason: `Moved to ${elsewhere.origin}/upload`,
      headers: { location: `${elsewhere.origin}/upload`, 'x-nuget-warning': `Pushes to 127.0.0.1:${port} are deprecated` },
      body: `Use ${elsewhere.origin}/upload instead of ${publish.origin}`,
    });
    const res = await fetch(`${nugate.url}/v3/package/`, { method: 'PUT', headers: { 'x-nuget-apikey': CLIENT_KEY }, body: multipart(nupkg('Contoso.Split', '2.0.0')), redirect: 'manual' });
    const body = await res.text();
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), null);
    const told = `${res.statusText}\n${body}\n${res.headers.get('x-nuget-warning') ?? ''}`;
    assert.doesNotMatch(told, /127\.0\.0\.1|localhost/, `an upstream address reached the client: ${told}`);
    assert.match(told, /upstream "feed"/);
    assert.equal(elsewhere.requests.length, 0, 'nothing went to the origin the redirect named');
  });

  it('sends the credentials to no other origin, and the client key nowhere', () => {
    assert.equal(elsewhere.requests.length, 0);
    assert.ok(index.requests.every((r) => r.method === 'GET'), 'no push went to the service index origin');
    for (const r of [...index.requests, ...publish.requests]) {
      assert.ok(!JSON.stringify(r.headers).includes(CLIENT_KEY), `the client key reached ${r.method} ${r.url}`);
    }
    for (const line of nugate.logs) for (const s of [TOKEN, UPSTREAM_KEY, CLIENT_KEY]) assert.ok(!line.includes(s), `secret in log: ${line}`);
  });
});
