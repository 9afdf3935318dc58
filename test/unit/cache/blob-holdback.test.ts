/**
 * A client must never see a complete-looking body before the download is verified: the last byte is held
 * back until verification passes, and a failed verification errors the stream instead of ending it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { DiskBlobCache } from '../../../src/cache/blob-cache.ts';
import { FsBlobStore } from '../../../src/cache/blob-fs.ts';
import { BlobIndex } from '../../../src/cache/blob-index.ts';
import { createHotTier } from '../../../src/cache/hot.ts';
import { openMetaStores } from '../../../src/cache/meta.ts';
import { isBlobEntry, isBlobTotals } from '../../../src/cache/records.ts';
import type { DownloadFacts } from '../../../src/cache/verify.ts';
import { controlledBody, FakeClock, NEWTONSOFT, tempDir, tick, until } from './support.ts';

async function setup(t: TestContext): Promise<{ blobs: DiskBlobCache; gate: { calls: number; release(err?: Error): void } }> {
  const dir = await tempDir(t);
  const clock = new FakeClock();
  const log = pino({ level: 'silent' });
  const stores = openMetaStores('memory', dir);
  const index = new BlobIndex({ entries: stores.open('blobs', isBlobEntry), state: stores.open('state', isBlobTotals), clock, log });
  const store = new FsBlobStore(join(dir, 'blobs'));
  await store.init();
  let release: (err?: Error) => void = () => undefined;
  const gate = {
    calls: 0,
    release: (err?: Error) => release(err),
  };
  const verify = (_facts: DownloadFacts): Promise<void> => {
    gate.calls++;
    return new Promise<void>((resolve, reject) => {
      release = (err) => (err === undefined ? resolve() : reject(err));
    });
  };
  const blobs = new DiskBlobCache({ store, index, hot: createHotTier({ maxSize: 1 << 24, maxEntrySize: 1 << 24 }), maxSize: 1 << 30, maxBlobBytes: 1 << 30, clock, log, offline: false, verify });
  t.after(() => blobs.close());
  return { blobs, gate };
}

describe('held-back last byte', () => {
  for (const outcome of ['passes', 'fails'] as const) {
    it(`keeps the end back until verification ${outcome}`, async (t) => {
      const { blobs, gate } = await setup(t);
      const data = await readFile(NEWTONSOFT.path);
      const { body, feed } = controlledBody(data.length);
      const r = await blobs.get(NEWTONSOFT.key, async () => body);
      if (r?.body.kind !== 'stream') assert.fail('expected a stream');
      const stream = r.body.stream;
      let got = 0;
      let end: 'ended' | 'errored' | undefined;
      stream.on('data', (c: Buffer) => (got += c.length));
      stream.once('end', () => (end = 'ended'));
      stream.once('error', () => (end = 'errored'));

      feed.end(data);
      await until(() => gate.calls === 1 && got === data.length - 1, 'all but the last byte');
      for (let i = 0; i < 20; i++) await tick();
      assert.equal(got, data.length - 1, 'the last byte waits for verification');
      assert.equal(end, undefined);

      gate.release(outcome === 'passes' ? undefined : new Error('verification failed'));
      await until(() => end !== undefined, 'the stream to finish');
      if (outcome === 'passes') {
        assert.equal(end, 'ended');
        assert.equal(got, data.length);
        assert.equal(await blobs.has(NEWTONSOFT.key), true);
      } else {
        assert.equal(end, 'errored');
        assert.equal(got, data.length - 1);
        assert.equal(await blobs.has(NEWTONSOFT.key), false);
      }
    });
  }
});
