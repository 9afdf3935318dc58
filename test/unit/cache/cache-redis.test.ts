/** The whole cache with Redis as its metadata tier: two instances sharing one Redis (design.md §8). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, it } from 'node:test';
import { createCache } from '../../../src/cache/index.ts';
import { startRedis, type RedisServer } from '../../helpers/redis.ts';
import { bodyOf, counter, FakeClock, makeConfig, NEWTONSOFT, readBody, tempDir } from './support.ts';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

it('shares documents and blob entries between instances through Redis', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock();
  const config = makeConfig(dir, { store: redis.url });
  const a = await createCache({ config, clock });
  t.after(() => a.close());
  const b = await createCache({ config, clock });
  t.after(() => b.close());

  const loadDoc = counter(async () => ({ kind: 'ok' as const, body: '{"shared":true}', validators: { etag: '"x"' } }));
  assert.equal((await a.docs.get('reg:nuget.org:x', 'metadata', 'nuget.org', loadDoc.fn)).state, 'MISS');
  const fromB = await b.docs.get('reg:nuget.org:x', 'metadata', 'nuget.org', loadDoc.fn);
  assert.equal(fromB.state, 'HIT');
  assert.equal(fromB.doc.body, '{"shared":true}');
  assert.equal(loadDoc.calls, 1);

  const data = await readFile(NEWTONSOFT.path);
  const loadBlob = counter(async () => bodyOf(data));
  await readBody((await a.blobs.get(NEWTONSOFT.key, loadBlob.fn))?.body ?? assert.fail());
  const blobFromB = await b.blobs.get(NEWTONSOFT.key, loadBlob.fn);
  assert.equal(blobFromB?.state, 'HIT');
  assert.ok((await readBody(blobFromB.body)).equals(data));
  assert.equal(loadBlob.calls, 1);

  const stats = await b.stats();
  assert.equal(stats.store, 'redis');
  assert.equal(stats.docs.count, 1);
  assert.equal(stats.blobs.count, 1);

  await a.docs.evictKeys(['reg:nuget.org:x']);
  await b.close();
  const c = await createCache({ config, clock });
  t.after(() => c.close());
  assert.equal((await c.docs.get('reg:nuget.org:x', 'metadata', 'nuget.org', loadDoc.fn)).state, 'MISS');
});

it('keeps answering, without hanging, when Redis is unreachable', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock();
  // A port nothing listens on: connections are refused.
  const config = makeConfig(dir, { store: 'redis://127.0.0.1:1' });
  const cache = await createCache({ config, clock, redis: { timeoutMs: 200, maxFails: 2, retryAfterMs: 60_000 } });
  t.after(() => cache.close());
  const load = counter(async () => ({ kind: 'ok' as const, body: '{"up":1}', validators: {} }));
  const r = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
  assert.equal(r.state, 'MISS');
  assert.equal(r.doc.body, '{"up":1}');
  // The hot tier still has it, so the second answer needs neither Redis nor the upstream.
  assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
  assert.equal(load.calls, 1);
  const data = await readFile(NEWTONSOFT.path);
  const blob = await cache.blobs.get(NEWTONSOFT.key, async () => bodyOf(data));
  assert.ok((await readBody(blob?.body ?? assert.fail())).equals(data), 'downloads still stream to the client');
  await cache.close();
});
