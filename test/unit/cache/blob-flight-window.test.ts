/**
 * A download's newest bytes are held in memory (blob-flight.ts): writes reach the temp file in batches, readers
 * that keep up copy from memory, and a reader left behind the window reads the file. Every reader gets every byte,
 * the last one only once the download is verified and committed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { BlobFlight, type FlightDeps } from '../../../src/cache/blob-flight.ts';
import { ownClaims } from '../../../src/cache/blob-claims.ts';
import type { BlobStore, TempBlob } from '../../../src/cache/blob-fs.ts';
import type { BlobKey, BlobResult } from '../../../src/cache/types.ts';
import { readBody } from './support.ts';

const KEY: BlobKey = { upstream: 'u', id: 'big.package', version: '1.0.0', file: 'nupkg' };

/** A temp file in memory that counts its reads and writes. */
function memoryTemp(): { temp: TempBlob; data: () => Buffer; writes: number[]; reads: () => number } {
  let data = Buffer.alloc(0);
  const writes: number[] = [];
  let reads = 0;
  const temp: TempBlob = {
    key: KEY,
    path: '/nonexistent/memory-temp',
    async write(chunk, position) {
      assert.equal(position, data.length, 'writes are sequential');
      writes.push(chunk.length);
      data = Buffer.concat([data, chunk]);
    },
    async read(buf, position) {
      reads++;
      return data.copy(buf, 0, position, Math.min(data.length, position + buf.length));
    },
    flush: async () => undefined,
    commit: async () => undefined,
    abort: async () => undefined,
    close: async () => undefined,
  };
  return { temp, data: () => data, writes, reads: () => reads };
}

function flight(feed: PassThrough, temp: TempBlob, verified: Promise<void>): BlobFlight {
  const store: Pick<BlobStore, 'begin'> = { begin: async () => temp };
  const deps: FlightDeps = {
    key: KEY,
    store: store as BlobStore,
    lookup: async () => undefined,
    loader: async () => ({ stream: feed }),
    claims: ownClaims,
    verify: () => verified,
    shouldKeep: () => true,
    index: async () => undefined,
    contentType: () => 'application/octet-stream',
    maxBytes: 100 * 1024 * 1024,
    onEnd: () => undefined,
    onFailure: () => undefined,
  };
  return new BlobFlight(deps);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('BlobFlight window', () => {
  it('writes in batches, serves a reader that keeps up from memory, and a late reader from the file', async () => {
    const payload = randomBytes(3 * 1024 * 1024);
    const feed = new PassThrough();
    const mem = memoryTemp();
    let verify: () => void = () => undefined;
    const f = flight(feed, mem.temp, new Promise<void>((resolve) => (verify = resolve)));
    const first: BlobResult | undefined = await f.join();
    assert.ok(first !== undefined && first.body.kind === 'stream');
    const reading = readBody(first.body);
    // 16 KB chunks, one per turn: the reader keeps up.
    for (let i = 0; i < payload.length; i += 16 * 1024) {
      feed.write(payload.subarray(i, i + 16 * 1024));
      await tick();
    }
    const readsWhileFollowing = mem.reads();
    // A reader that starts now is 3 MB behind: the first bytes are no longer in memory.
    const late = await f.join();
    assert.ok(late !== undefined && late.body.kind === 'stream');
    const lateReading = readBody(late.body);
    feed.end();
    await tick();
    // Nothing may end before verification (the last byte is held back).
    let ended = false;
    void reading.then(() => (ended = true));
    await tick();
    assert.equal(ended, false, 'no reader ends before the download is verified');
    verify();
    const [a, b] = await Promise.all([reading, lateReading]);
    assert.ok(a.equals(payload), 'the reader that kept up got every byte');
    assert.ok(b.equals(payload), 'the late reader got every byte');
    assert.ok(mem.data().equals(payload), 'the file holds every byte');
    assert.equal(readsWhileFollowing, 0, 'a reader keeping up never reads the file');
    assert.ok(mem.reads() > 0, 'the late reader read the file');
    assert.ok(mem.writes.length <= Math.ceil(payload.length / (256 * 1024)) + 1, `${mem.writes.length} writes for ${payload.length} bytes`);
    await f.ended;
  });
});
