/**
 * The bounded fetch against hostile upstreams (issue 8): decompression bombs, drip bodies, stalls, lying
 * Content-Length. Every failure must be an UpstreamError with a reason, quickly, without memory growing with the
 * inflated size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import { gzipSync, brotliCompressSync, deflateSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { UpstreamError, UpstreamFailure } from '../../../src/errors.ts';
import { createDispatcher, fetchBuffer, fetchStream, type FetchRequest } from '../../../src/upstream/http.ts';
import { fetchRequest, rejectsWith as failsWith } from '../../helpers/upstream-failures.ts';
import { bomb, bombBytes, drip, json, lyingLength, paced, raw, startHostileUpstream, type HostileUpstream } from '../../helpers/hostile-upstream.ts';

const MB = 1024 * 1024;

function request(url: string, over: Partial<FetchRequest> = {}): FetchRequest {
  return fetchRequest('hostile', url, { timeoutMs: 5_000, maxBytes: 8 * MB }, over);
}

/** Asserts `p` fails with an UpstreamError of `reason` whose message names the upstream and no address. */
async function rejectsWith(p: Promise<unknown>, reason: UpstreamFailure): Promise<UpstreamError> {
  const err = await failsWith(p, reason);
  assert.match(err.message, /^hostile: /);
  assert.doesNotMatch(err.message, /127\.0\.0\.1|localhost|https?:|\/\//);
  return err;
}

async function drain(body: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of body) n += (chunk as Buffer).length;
  return n;
}

describe('fetchBuffer bounds', () => {
  let up: HostileUpstream;
  let dispatcher: Dispatcher;
  before(async () => {
    up = await startHostileUpstream();
    dispatcher = createDispatcher();
  });
  after(async () => {
    await dispatcher.close();
    await up.close();
  });

  it('decodes gzip, x-gzip, deflate, br and identity, and drops the encoding headers', async () => {
    const doc = Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] }));
    up.route('/gzip', raw(gzipSync(doc), { 'content-encoding': 'gzip' }));
    up.route('/x-gzip', raw(gzipSync(doc), { 'content-encoding': 'x-gzip' }));
    up.route('/deflate', raw(deflateSync(doc), { 'content-encoding': 'deflate' }));
    up.route('/br', raw(brotliCompressSync(doc), { 'content-encoding': 'br' }));
    up.route('/identity', raw(doc, { 'content-type': 'application/json' }));
    for (const path of ['/gzip', '/x-gzip', '/deflate', '/br', '/identity']) {
      const res = await fetchBuffer(dispatcher, request(up.url(path)));
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(doc), path);
      assert.equal(res.headers['content-encoding'], undefined, path);
    }
  });

  it('rejects a gzip bomb (200 MB inflated) at the 8 MB decoded cap, quickly and without RSS growing with it', async () => {
    up.route('/bomb', await bomb('gzip', 200 * MB));
    const rss = process.memoryUsage().rss;
    const started = Date.now();
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/bomb'), { maxBytes: 8 * MB })), 'too-large');
    const grew = process.memoryUsage().rss - rss;
    assert.ok(Date.now() - started < 3_000, 'rejected quickly');
    // A synchronous inflate (the old readBody) grew RSS by the full 200 MB.
    assert.ok(grew < 50 * MB, `RSS grew ${Math.round(grew / MB)} MB`);
  });

  it('caps decoded bytes for brotli and deflate bombs too', async () => {
    up.route('/br-bomb', await bomb('br', 64 * MB));
    up.route('/deflate-bomb', await bomb('deflate', 64 * MB));
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/br-bomb'), { maxBytes: MB })), 'too-large');
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/deflate-bomb'), { maxBytes: MB })), 'too-large');
  });

  it('refuses a declared Content-Length above the cap before reading the body', async () => {
    up.route('/big', raw(Buffer.alloc(2 * MB, 0x20), { 'content-type': 'application/json' }));
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/big'), { maxBytes: MB })), 'too-large');
  });

  it('a drip body (headers, then a byte every 200 ms) fails at the 500 ms total deadline', async () => {
    up.route('/drip', drip(200));
    const started = Date.now();
    // The idle deadline alone would never fire: bytes keep coming.
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/drip'), { timeout: 500, idleTimeout: 5_000 })), 'timeout');
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 2_000, `took ${took} ms`);
  });

  it('a body that stalls past the idle deadline fails even inside the total deadline', async () => {
    up.route('/stall', paced({ chunkBytes: 100, chunks: 2, everyMs: 10, pauseAfterFirstMs: 2_000 }));
    const started = Date.now();
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/stall'), { timeout: 10_000, idleTimeout: 300 })), 'timeout');
    assert.ok(Date.now() - started < 1_800);
  });

  it('a body shorter than its Content-Length is an invalid body', async () => {
    up.route('/short', lyingLength(Buffer.from('{"a":1}'), 1_000));
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/short'))), 'invalid-body');
  });

  it('a corrupt gzip body is an invalid body; an unknown encoding too', async () => {
    up.route('/corrupt', raw(Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' }));
    up.route('/zstd', raw(Buffer.from('xx'), { 'content-encoding': 'zstd' }));
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/corrupt'))), 'invalid-body');
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/zstd'))), 'invalid-body');
  });

  it('returns a non-2xx status with at most 64 KB of its body, never throws for it', async () => {
    up.route('/unavailable', raw(Buffer.alloc(300 * 1024, 0x41), { 'content-type': 'text/plain', 'retry-after': '7' }, 503));
    up.route('/gone', json({ error: 'gone' }, { status: 404 }));
    const unavailable = await fetchBuffer(dispatcher, request(up.url('/unavailable')));
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers['retry-after'], '7');
    assert.equal(unavailable.body.length, 64 * 1024);
    const gone = await fetchBuffer(dispatcher, request(up.url('/gone')));
    assert.equal(gone.status, 404);
    assert.deepEqual(JSON.parse(gone.body.toString()), { error: 'gone' });
  });

  it('a 304 comes back as a status with its validators, whatever Content-Length it repeats', async () => {
    up.route('/not-modified', (_req, res) => void res.writeHead(304, { etag: '"v1"', 'content-length': '1234' }).end());
    const res = await fetchBuffer(dispatcher, request(up.url('/not-modified'), { headers: { 'if-none-match': '"v1"' } }));
    assert.equal(res.status, 304);
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(res.body.length, 0);
  });

  it('a client abort is "aborted", not an upstream failure', async () => {
    up.route('/drip-abort', drip(50));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    await rejectsWith(fetchBuffer(dispatcher, request(up.url('/drip-abort'), { signal: ac.signal })), 'aborted');
  });

  it('HEAD returns the status and headers with an empty body', async () => {
    up.route('/head', raw(Buffer.from('{"x":1}'), { 'content-type': 'application/json' }));
    const res = await fetchBuffer(dispatcher, request(up.url('/head'), { method: 'HEAD' }));
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });
});

describe('fetchStream bounds', () => {
  let up: HostileUpstream;
  let dispatcher: Dispatcher;
  before(async () => {
    up = await startHostileUpstream();
    dispatcher = createDispatcher();
  });
  after(async () => {
    await dispatcher.close();
    await up.close();
  });

  it('streams an identity package with its length', async () => {
    const bytes = Buffer.alloc(3 * MB, 7);
    up.route('/pkg', raw(bytes, { 'content-type': 'application/octet-stream' }));
    const res = await fetchStream(dispatcher, request(up.url('/pkg'), { maxBytes: 10 * MB }));
    assert.equal(res.status, 200);
    assert.equal(res.length, bytes.length);
    assert.equal(await drain(res.body), bytes.length);
  });

  it('a gzip bomb sent as a package fails on the ratio guard, even under a large cap', async () => {
    up.route('/bomb.nupkg', await bomb('gzip', 200 * MB, 'application/octet-stream'));
    const rss = process.memoryUsage().rss;
    const res = await fetchStream(dispatcher, request(up.url('/bomb.nupkg'), { maxBytes: 1024 * MB }));
    assert.equal(res.status, 200);
    assert.equal(res.length, undefined, 'no decoded length is known for an encoded body');
    let seen = 0;
    res.body.on('data', (c: Buffer) => (seen += c.length));
    await rejectsWith(drain(res.body), 'too-large');
    // 20 × ~200 KB + 1 MB: the old decodedStream inflated all 200 MB (to disk, to the client).
    assert.ok(seen < 8 * MB, `passed on ${Math.round(seen / MB)} MB`);
    assert.ok(process.memoryUsage().rss - rss < 50 * MB);
  });

  it('a package beyond maxBytes fails: declared up front, or counted while streaming', async () => {
    up.route('/huge-declared', raw(Buffer.alloc(2 * MB), { 'content-type': 'application/octet-stream' }));
    await rejectsWith(fetchStream(dispatcher, request(up.url('/huge-declared'), { maxBytes: MB })), 'too-large');
    const compressed = gzipSync(Buffer.alloc(2 * MB, 1)); // honest ratio guard aside, 2 MB > 1 MB cap
    up.route('/huge-encoded', raw(compressed, { 'content-encoding': 'gzip' }));
    const res = await fetchStream(dispatcher, request(up.url('/huge-encoded'), { maxBytes: MB }));
    await rejectsWith(drain(res.body), 'too-large');
  });

  it('a stalled body fails on the idle deadline (idle 300 ms, a 1 s pause)', async () => {
    up.route('/stall.nupkg', paced({ chunkBytes: 1024, chunks: 3, everyMs: 20, pauseAfterFirstMs: 1_000 }));
    const started = Date.now();
    const res = await fetchStream(dispatcher, request(up.url('/stall.nupkg'), { timeout: 5_000, idleTimeout: 300 }));
    await rejectsWith(drain(res.body), 'timeout');
    assert.ok(Date.now() - started < 2_000);
  });

  it('a slow but steady body outlives both deadlines (timeout 500 ms, idle 300 ms, 1.8 s transfer)', async () => {
    up.route('/steady.nupkg', paced({ chunkBytes: 16 * 1024, chunks: 12, everyMs: 150 }));
    const started = Date.now();
    const res = await fetchStream(dispatcher, request(up.url('/steady.nupkg'), { timeout: 500, idleTimeout: 300 }));
    assert.equal(await drain(res.body), 12 * 16 * 1024);
    assert.ok(Date.now() - started > 1_500, 'the transfer really took longer than the header deadline');
  });

  it('a consumer that stops reading for 1 s is not mistaken for an idle upstream', async () => {
    up.route('/fast.nupkg', raw(Buffer.alloc(8 * MB, 3), { 'content-type': 'application/octet-stream' }));
    const res = await fetchStream(dispatcher, request(up.url('/fast.nupkg'), { maxBytes: 16 * MB, idleTimeout: 300 }));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await drain(res.body), 8 * MB);
  });

  it('a client abort mid-body destroys the stream with "aborted"', async () => {
    up.route('/drip.nupkg', drip(50, 'application/octet-stream'));
    const ac = new AbortController();
    const res = await fetchStream(dispatcher, request(up.url('/drip.nupkg'), { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    await rejectsWith(drain(res.body), 'aborted');
  });

  it('a non-2xx answer comes back as a status and a small buffered body', async () => {
    up.route('/denied.nupkg', raw(Buffer.from('nope'), { 'content-type': 'text/plain' }, 403));
    const res = await fetchStream(dispatcher, request(up.url('/denied.nupkg')));
    assert.equal(res.status, 403);
    assert.equal((await drain(res.body)), 4);
  });

  it('the bomb fixture really is a bomb (guards the tests above)', async () => {
    const bytes = await bombBytes('gzip', 200 * MB);
    assert.ok(bytes.length < 300 * 1024, `${bytes.length} compressed bytes`);
  });
});
