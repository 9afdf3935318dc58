import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { blobBodyStream } from '../../../src/cache/blob-body.ts';
import { createCache, type Cache } from '../../../src/cache/index.ts';
import type { BlobKey, BlobLoader, BlobResult, UpstreamBody } from '../../../src/cache/types.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { UpstreamError } from '../../../src/errors.ts';
import {
  bodyOf,
  controlledBody,
  counter,
  FakeClock,
  listFiles,
  makeConfig,
  NEWTONSOFT,
  readBody,
  sha512,
  tempDir,
  until,
  XUNIT,
  TEST_SDK,
  XUNIT_CORE,
} from './support.ts';

interface OpenOptions {
  offline?: boolean;
  packageSize?: number;
  maxSize?: number;
  hotMaxSize?: number;
  hotMaxEntrySize?: number;
}

async function open(t: TestContext, dir: string, clock: FakeClock, o: OpenOptions = {}): Promise<Cache> {
  const cache: Record<string, number> = {};
  if (o.maxSize !== undefined) cache.maxSize = o.maxSize;
  if (o.hotMaxSize !== undefined) cache.hotMaxSize = o.hotMaxSize;
  if (o.hotMaxEntrySize !== undefined) cache.hotMaxEntrySize = o.hotMaxEntrySize;
  const extra: Partial<ConfigInput> = {};
  if (o.offline !== undefined) extra.offline = o.offline;
  if (o.packageSize !== undefined) extra.limits = { packageSize: o.packageSize };
  const c = await createCache({ config: makeConfig(dir, cache, extra), clock });
  t.after(() => c.close());
  return c;
}

/** Temp files and journal entries: what a failed or interrupted download could leave behind. */
async function leftovers(dir: string): Promise<string[]> {
  return (await listFiles(join(dir, 'blobs'))).filter((f) => f.endsWith('.tmp') || f.startsWith('.inflight/'));
}

function loaderOf(data: Buffer, extra: Partial<UpstreamBody> = {}): BlobLoader {
  return async () => bodyOf(data, extra);
}

async function expectStreamFailure(result: BlobResult | undefined): Promise<void> {
  assert.ok(result !== undefined);
  assert.equal(result.body.kind, 'stream');
  await assert.rejects(readBody(result.body), 'the client sees an error, never a complete-looking body');
}

describe('BlobCache', () => {
  it('serves a second get and a restart without calling the loader', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const data = await readFile(NEWTONSOFT.path);
    const load = counter(loaderOf(data, { contentType: 'binary/octet-stream' }));

    const first = await open(t, dir, clock);
    const miss = await first.blobs.get(NEWTONSOFT.key, load.fn);
    assert.ok(miss !== undefined);
    assert.equal(miss.state, 'MISS');
    assert.equal(miss.size, data.length);
    assert.equal(miss.contentType, 'application/octet-stream');
    assert.ok((await readBody(miss.body)).equals(data));

    const hit = await first.blobs.get(NEWTONSOFT.key, load.fn);
    assert.ok(hit !== undefined);
    assert.equal(hit.state, 'HIT');
    assert.equal(hit.body.kind, 'buffer', 'a small package is served from memory');
    assert.ok((await readBody(hit.body)).equals(data));
    assert.equal(hit.sha512, sha512(data));
    assert.equal(hit.etag, `"${Buffer.from(sha512(data), 'base64').toString('hex').slice(0, 40)}"`);
    assert.equal(await first.blobs.has(NEWTONSOFT.key), true);
    await first.close();

    const restarted = await open(t, dir, clock);
    assert.equal(await restarted.blobs.has(NEWTONSOFT.key), true);
    const again = await restarted.blobs.get(NEWTONSOFT.key, load.fn);
    assert.ok(again !== undefined);
    assert.equal(again.state, 'HIT');
    assert.ok((await readBody(again.body)).equals(data));
    assert.equal(load.calls, 1);
  });

  it('serves a blob above hotMaxEntrySize from its file', async (t) => {
    const clock = new FakeClock();
    const data = await readFile(NEWTONSOFT.path);
    const cache = await open(t, await tempDir(t), clock, { hotMaxEntrySize: 1024 });
    await readBody((await cache.blobs.get(NEWTONSOFT.key, loaderOf(data)))?.body ?? assert.fail());
    const hit = await cache.blobs.get(NEWTONSOFT.key, loaderOf(data));
    assert.equal(hit?.body.kind, 'file');
    assert.equal(hit.size, data.length);
    assert.ok((await readBody(hit.body)).equals(data));
  });

  it('coalesces 50 cold gets into one loader call and streams to all of them before the download ends', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const { body, feed } = controlledBody(data.length);
    const load = counter(async () => body);

    const results = await Promise.all(Array.from({ length: 50 }, () => cache.blobs.get(NEWTONSOFT.key, load.fn)));
    assert.equal(load.calls, 1);
    const received = results.map(() => [] as Buffer[]);
    const done = results.map((r, i) => {
      assert.ok(r !== undefined);
      assert.equal(r.state, 'MISS');
      assert.equal(r.size, data.length);
      if (r.body.kind !== 'stream') assert.fail('a download in progress is a stream');
      const stream = r.body.stream;
      stream.on('data', (chunk: Buffer) => received[i]?.push(chunk));
      return new Promise<void>((resolve, reject) => {
        stream.once('end', resolve);
        stream.once('error', reject);
      });
    });

    const half = Math.floor(data.length / 2);
    feed.write(data.subarray(0, half));
    await until(() => received.every((chunks) => chunks.length > 0), 'every client to receive bytes');
    assert.equal(feed.writableEnded, false, 'the upstream body is still open');
    const before = received.map((chunks) => Buffer.concat(chunks).length);
    assert.ok(before.every((n) => n > 0 && n < data.length), 'each client has part of the package');

    feed.end(data.subarray(half));
    await Promise.all(done);
    for (const chunks of received) assert.ok(Buffer.concat(chunks).equals(data), 'identical complete bytes');
    assert.equal(load.calls, 1);
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), true);
    assert.deepEqual(await leftovers(dir), []);
  });

  it('gives clients that join mid-download the whole body from the start', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const data = await readFile(XUNIT.path);
    const { body, feed } = controlledBody();
    const load = counter(async () => body);
    const early = await cache.blobs.get(XUNIT.key, load.fn);
    feed.write(data.subarray(0, 1000));
    const late = await cache.blobs.get(XUNIT.key, load.fn);
    feed.end(data.subarray(1000));
    const [a, b] = await Promise.all([readBody(early?.body ?? assert.fail()), readBody(late?.body ?? assert.fail())]);
    assert.ok(a.equals(data) && b.equals(data));
    assert.equal(load.calls, 1);
  });

  const failures: Array<[string, (data: Buffer) => BlobLoader]> = [
    ['the loader throws', () => async () => {
      throw new UpstreamError('nuget.org', 'answered 503');
    }],
    ['the body is truncated (fewer bytes than Content-Length)', (data) => async () => ({ stream: Readable.from([data.subarray(0, data.length - 100)]), length: data.length })],
    ['the body stream errors mid-way', (data) => async () => ({
      stream: Readable.from((async function* () {
        yield data.subarray(0, 5000);
        throw new Error('socket hang up');
      })()),
      length: data.length,
    })],
    ['the SHA-512 does not match', (data) => async () => bodyOf(data, { sha512: sha512(Buffer.from('something else')) })],
    ['a nupkg is not a zip', () => async () => bodyOf(Buffer.from('<html>Sign in to continue</html>'))],
    ['a nupkg is another package', () => async () => bodyOf(readFileSync(XUNIT.path))],
    ['the body is longer than Content-Length', (data) => async () => ({ stream: Readable.from([data, Buffer.from('extra')]), length: data.length })],
  ];

  for (const [what, bad] of failures) {
    it(`indexes nothing when ${what}, and the next get stores a clean copy`, async (t) => {
      const dir = await tempDir(t);
      const cache = await open(t, dir, new FakeClock());
      const data = await readFile(NEWTONSOFT.path);
      const failing = counter(bad(data));
      let result: BlobResult | undefined;
      try {
        result = await cache.blobs.get(NEWTONSOFT.key, failing.fn);
      } catch (err) {
        assert.ok(err instanceof UpstreamError, 'a loader error reaches the caller');
      }
      if (result !== undefined) await expectStreamFailure(result);
      assert.equal(failing.calls, 1);
      assert.equal(await cache.blobs.has(NEWTONSOFT.key), false);
      await until(() => true);
      await cache.settle();
      assert.deepEqual(await leftovers(dir), [], 'the temp file and its journal entry are gone');
      assert.deepEqual(await listFiles(join(dir, 'blobs')), [], 'no blob file either');

      const good = counter(loaderOf(data, { sha512: sha512(data) }));
      const retry = await cache.blobs.get(NEWTONSOFT.key, good.fn);
      assert.equal(good.calls, 1, 'the next get asks the upstream again');
      assert.ok((await readBody(retry?.body ?? assert.fail())).equals(data));
      assert.equal((await cache.blobs.get(NEWTONSOFT.key, good.fn))?.state, 'HIT');
      assert.equal(good.calls, 1);
    });
  }

  it('errors every waiting stream when the download fails after they started', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const { body, feed } = controlledBody(data.length);
    const results = await Promise.all(Array.from({ length: 5 }, () => cache.blobs.get(NEWTONSOFT.key, async () => body)));
    const outcomes = results.map((r) => readBody(r?.body ?? assert.fail()).then(() => 'ended', () => 'errored'));
    feed.write(data.subarray(0, 10_000));
    feed.destroy(new Error('connection reset'));
    assert.deepEqual(await Promise.all(outcomes), Array(5).fill('errored'));
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false);
    await cache.settle();
    assert.deepEqual(await leftovers(dir), []);
  });

  it('never lets a reader see the end of a body that fails verification', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const { body, feed } = controlledBody(data.length);
    body.sha512 = sha512(Buffer.from('not this'));
    const r = await cache.blobs.get(NEWTONSOFT.key, async () => body);
    if (r?.body.kind !== 'stream') assert.fail('expected a stream');
    let got = 0;
    r.body.stream.on('data', (c: Buffer) => (got += c.length));
    const outcome = new Promise<string>((resolve) => {
      r.body.kind === 'stream' && r.body.stream.once('end', () => resolve('ended'));
      r.body.kind === 'stream' && r.body.stream.once('error', () => resolve('errored'));
    });
    feed.end(data);
    assert.equal(await outcome, 'errored');
    assert.ok(got < data.length, 'the last byte was held back');
  });

  it('close() aborts downloads in progress: clients see an error, nothing is kept', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const { body, feed } = controlledBody(data.length);
    const r = await cache.blobs.get(NEWTONSOFT.key, async () => body);
    const outcome = readBody(r?.body ?? assert.fail()).then(() => 'ended', () => 'errored');
    feed.write(data.subarray(0, 4096));
    await cache.close();
    assert.equal(await outcome, 'errored');
    assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  });

  it('returns undefined for notFound and does not cache it', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const load = counter(async (): Promise<'notFound'> => 'notFound');
    assert.equal(await cache.blobs.get(NEWTONSOFT.key, load.fn), undefined);
    assert.equal(await cache.blobs.get(NEWTONSOFT.key, load.fn), undefined);
    assert.equal(load.calls, 2);
  });

  it('offline: serves stored blobs, undefined for the rest, and never calls the loader', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const data = await readFile(NEWTONSOFT.path);
    const online = await open(t, dir, clock);
    await readBody((await online.blobs.get(NEWTONSOFT.key, loaderOf(data)))?.body ?? assert.fail());
    await online.close();

    const offline = await open(t, dir, clock, { offline: true });
    const load = counter(loaderOf(data));
    const hit = await offline.blobs.get(NEWTONSOFT.key, load.fn);
    assert.equal(hit?.state, 'HIT');
    assert.ok((await readBody(hit.body)).equals(data));
    assert.equal(await offline.blobs.get(XUNIT.key, load.fn), undefined);
    assert.equal(load.calls, 0);
  });

  it('verifies nuspec files against the key too', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const nuspec = await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.nuspec');
    const key: BlobKey = { ...NEWTONSOFT.key, file: 'nuspec' };
    const good = await cache.blobs.get(key, loaderOf(nuspec));
    assert.ok(good !== undefined);
    assert.ok((await readBody(good.body)).equals(nuspec));
    assert.equal(good.contentType, 'application/xml');
    const wrongKey: BlobKey = { ...key, version: '12.0.1' };
    await expectStreamFailure(await cache.blobs.get(wrongKey, loaderOf(nuspec)));
    assert.equal(await cache.blobs.has(wrongKey), false);
  });

  it('evicts least recently used blobs once the disk tier is over cache.maxSize', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const a = await readFile(XUNIT.path);
    const b = await readFile(XUNIT_CORE.path);
    const c = await readFile(TEST_SDK.path);
    // Room for A and B, not for all three; evicting down to 90% of the cap keeps A and C.
    const maxSize = Math.ceil((a.length + c.length) / 0.9) + 100;
    assert.ok(a.length + b.length <= maxSize && a.length + b.length + c.length > maxSize);
    const cache = await open(t, dir, clock, { maxSize });
    await readBody((await cache.blobs.get(XUNIT.key, loaderOf(a)))?.body ?? assert.fail());
    clock.advance(2 * 60_000);
    await readBody((await cache.blobs.get(XUNIT_CORE.key, loaderOf(b)))?.body ?? assert.fail());
    clock.advance(2 * 60_000);
    assert.equal((await cache.blobs.get(XUNIT.key, loaderOf(a)))?.state, 'HIT', 'A is used again: B is now the oldest');
    clock.advance(2 * 60_000);
    await readBody((await cache.blobs.get(TEST_SDK.key, loaderOf(c)))?.body ?? assert.fail());
    await cache.settle();

    assert.equal(await cache.blobs.has(XUNIT.key), true);
    assert.equal(await cache.blobs.has(XUNIT_CORE.key), false, 'the least recently used blob went');
    assert.equal(await cache.blobs.has(TEST_SDK.key), true);
    const stats = await cache.stats();
    assert.equal(stats.blobs.count, 2);
    assert.equal(stats.blobs.bytes, a.length + c.length);
    assert.ok(stats.blobs.bytes <= maxSize);
  });

  it('evictId forgets every version and upstream of an id', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const nuspec = await readFile('/opt/nuget/packages/newtonsoft.json/13.0.3/newtonsoft.json.nuspec');
    const other = await readFile(XUNIT.path);
    const nuspecKey: BlobKey = { ...NEWTONSOFT.key, file: 'nuspec' };
    const mirrorKey: BlobKey = { ...NEWTONSOFT.key, upstream: 'slow' };
    for (const [k, d] of [[NEWTONSOFT.key, data], [nuspecKey, nuspec], [mirrorKey, data], [XUNIT.key, other]] as const) {
      await readBody((await cache.blobs.get(k, loaderOf(d)))?.body ?? assert.fail());
    }
    await cache.blobs.evictId('newtonsoft.json');
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false);
    assert.equal(await cache.blobs.has(nuspecKey), false);
    assert.equal(await cache.blobs.has(mirrorKey), false);
    assert.equal(await cache.blobs.has(XUNIT.key), true);
    const load = counter(loaderOf(data));
    const again = await cache.blobs.get(NEWTONSOFT.key, load.fn);
    assert.equal(again?.state, 'MISS');
    assert.ok((await readBody(again.body)).equals(data));
    assert.equal(load.calls, 1);
  });

  it('reports stats and prunes by size and by age', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const cache = await open(t, dir, clock);
    const a = await readFile(XUNIT.path);
    const b = await readFile(XUNIT_CORE.path);
    await readBody((await cache.blobs.get(XUNIT.key, loaderOf(a)))?.body ?? assert.fail());
    await cache.docs.get('old-doc', 'metadata', 'nuget.org', async () => ({ kind: 'ok', body: '{"x":1}', validators: {} }));
    await cache.docs.get('gone', 'metadata', 'nuget.org', async () => ({ kind: 'notFound' }));
    clock.advance(10 * 24 * 3600_000);
    await readBody((await cache.blobs.get(XUNIT_CORE.key, loaderOf(b)))?.body ?? assert.fail());
    await cache.docs.get('new-doc', 'serviceIndex', 'nuget.org', async () => ({ kind: 'ok', body: '{}', validators: {} }));

    const stats = await cache.stats();
    assert.equal(stats.store, 'file');
    assert.deepEqual(stats.blobs.byFile.nupkg, { count: 2, bytes: a.length + b.length });
    // The 404 expired during those ten days and was removed (issue 8: negative entries are not kept forever).
    assert.equal(stats.docs.count, 2);
    assert.equal(stats.docs.notFound, 0);
    assert.equal(stats.docs.byKind.serviceIndex.count, 1);

    const byAge = await cache.prune({ olderThan: 24 * 3600_000 });
    assert.deepEqual(byAge.blobs, { removed: 1, freedBytes: a.length });
    assert.equal(byAge.docs.removed, 1);
    assert.deepEqual(byAge.remaining, { count: 1, bytes: b.length });
    assert.equal(await cache.blobs.has(XUNIT.key), false);

    const bySize = await cache.prune({ maxSize: 0 });
    assert.deepEqual(bySize.blobs, { removed: 1, freedBytes: b.length });
    assert.deepEqual(bySize.remaining, { count: 0, bytes: 0 });
    assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  });

  // Issue 8: a blob evicted while it was being sent gave the client an empty reply. A file body is now an
  // open handle, taken before get() returns, so an unlink afterwards cannot take the bytes away.
  it('a file body read after its blob is evicted still yields every byte', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock(), { hotMaxEntrySize: 1024 });
    const data = await readFile(NEWTONSOFT.path);
    await readBody((await cache.blobs.get(NEWTONSOFT.key, loaderOf(data)))?.body ?? assert.fail());
    const hit = await cache.blobs.get(NEWTONSOFT.key, loaderOf(data));
    assert.equal(hit?.body.kind, 'file');
    await cache.blobs.evictId(NEWTONSOFT.key.id);
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false, 'evicted');
    assert.ok((await readBody(hit.body)).equals(data), 'complete bytes for the reader that had it');
  });

  it('gives concurrent hits on a stored file a handle each', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock(), { hotMaxEntrySize: 1024 });
    const data = await readFile(XUNIT.path);
    await readBody((await cache.blobs.get(XUNIT.key, loaderOf(data)))?.body ?? assert.fail());
    const hits = await Promise.all(Array.from({ length: 5 }, () => cache.blobs.get(XUNIT.key, loaderOf(data))));
    const bodies = await Promise.all(hits.map((h) => readBody(h?.body ?? assert.fail())));
    for (const b of bodies) assert.ok(b.equals(data));
  });

  it('a file body half read when its blob is evicted still completes', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock(), { hotMaxEntrySize: 1024 });
    const data = await readFile(NEWTONSOFT.path); // 2.4 MB: several chunks
    await readBody((await cache.blobs.get(NEWTONSOFT.key, loaderOf(data)))?.body ?? assert.fail());
    const hit = await cache.blobs.get(NEWTONSOFT.key, loaderOf(data));
    assert.ok(hit !== undefined);
    const reader = blobBodyStream(hit.body)[Symbol.asyncIterator]();
    const chunks: Buffer[] = [];
    const next = async (): Promise<boolean> => {
      const step = await reader.next();
      if (step.done === true) return false;
      chunks.push(Buffer.isBuffer(step.value) ? step.value : Buffer.from(String(step.value)));
      return true;
    };
    assert.ok(await next());
    assert.ok(Buffer.concat(chunks).length < data.length, 'the read is under way');
    await cache.blobs.evictId(NEWTONSOFT.key.id);
    assert.deepEqual((await listFiles(join(dir, 'blobs'))).filter((f) => !f.startsWith('.inflight')), [], 'the file is unlinked');
    while (await next());
    assert.ok(Buffer.concat(chunks).equals(data), 'every byte after the unlink');
  });

  it('accepts a download whose SHA-512 matches the registration packageHash (base64) and records it', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const r = await cache.blobs.get(NEWTONSOFT.key, loaderOf(data, { sha512: sha512(data) }));
    assert.ok((await readBody(r?.body ?? assert.fail())).equals(data));
    const hit = await cache.blobs.get(NEWTONSOFT.key, loaderOf(data));
    assert.equal(hit?.state, 'HIT');
    assert.equal(hit.sha512, sha512(data));
  });

  it('never caches a download whose SHA-512 differs from the packageHash, and its client stream errors', async (t) => {
    const dir = await tempDir(t);
    const cache = await open(t, dir, new FakeClock());
    const data = await readFile(NEWTONSOFT.path);
    const tampered = Buffer.from(data);
    // Same length and still the right package as far as a zip reader cares about the first bytes: only the hash can tell.
    tampered[tampered.length - 30] = (tampered[tampered.length - 30] ?? 0) ^ 0xff;
    const r = await cache.blobs.get(NEWTONSOFT.key, loaderOf(tampered, { sha512: sha512(data) }));
    await expectStreamFailure(r);
    await cache.settle();
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false);
    assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  });

  it('caps a download at limits.packageSize (not cache.maxSize), announced or not', async (t) => {
    const dir = await tempDir(t);
    const data = await readFile(NEWTONSOFT.path);
    const cache = await open(t, dir, new FakeClock(), { packageSize: 1000, maxSize: 1 << 30 });
    const announced = counter(loaderOf(data));
    await assert.rejects(cache.blobs.get(NEWTONSOFT.key, announced.fn), (err: unknown) => err instanceof UpstreamError && /limits\.packageSize/.test(err.message));
    const unannounced = await cache.blobs.get(NEWTONSOFT.key, async () => ({ stream: Readable.from([data]) }));
    await expectStreamFailure(unannounced);
    await cache.settle();
    assert.equal(await cache.blobs.has(NEWTONSOFT.key), false);
    assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  });

  it('re-downloads a blob whose file disappeared behind its back', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const data = await readFile(NEWTONSOFT.path);
    const first = await open(t, dir, clock);
    await readBody((await first.blobs.get(NEWTONSOFT.key, loaderOf(data)))?.body ?? assert.fail());
    await first.close();
    await rm(join(dir, 'blobs', 'newtonsoft.json'), { recursive: true });
    const second = await open(t, dir, clock);
    const load = counter(loaderOf(data));
    const r = await second.blobs.get(NEWTONSOFT.key, load.fn);
    assert.equal(r?.state, 'MISS');
    assert.ok((await readBody(r.body)).equals(data));
    assert.equal(load.calls, 1);
  });
});
