/**
 * Issue 8, "bounded state": every distinct 404 id was persisted forever, the metadata tier had no cap, a
 * publish walked the whole store (4.1 s at 50k documents), and the hot tier charged a not-found entry 256 B
 * while RSS grew about 0.8 KB per entry.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { TieredDocCache } from '../../../src/cache/doc-cache.ts';
import { createHotTier, HOT_ENTRY_OVERHEAD, type HotTier } from '../../../src/cache/hot.ts';
import { createCache, type Cache } from '../../../src/cache/index.ts';
import type { MetaStore } from '../../../src/cache/meta.ts';
import { openMetaStores } from '../../../src/cache/meta.ts';
import { META_RECORD_OVERHEAD, MetaIndex } from '../../../src/cache/meta-index.ts';
import { createPolicy } from '../../../src/cache/policy.ts';
import { isDocRecord, type DocRecord, type HotValue } from '../../../src/cache/records.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { LoadResult } from '../../../src/cache/types.ts';
import { FakeClock, makeConfig, tempDir } from './support.ts';

const MIN = 60_000;
const notFound = async (): Promise<LoadResult> => ({ kind: 'notFound' });
const okBody = (body: string) => async (): Promise<LoadResult> => ({ kind: 'ok', body, validators: {} });

async function open(t: TestContext, dir: string, clock: FakeClock, cache: Partial<NonNullable<ConfigInput['cache']>> = {}): Promise<Cache> {
  const c = await createCache({ config: makeConfig(dir, cache), clock });
  t.after(() => c.close());
  return c;
}

/** A MetaStore that counts full walks (entries/keys): exact eviction must not need one. */
function countingStore(inner: MetaStore<DocRecord>): { store: MetaStore<DocRecord>; walks: number } {
  const counts = { store: inner, walks: 0 };
  counts.store = {
    get: (k) => inner.get(k),
    set: (k, v) => inner.set(k, v),
    delete: (k) => inner.delete(k),
    entries: () => {
      counts.walks++;
      return inner.entries();
    },
    keys: () => {
      counts.walks++;
      return inner.keys();
    },
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
  return counts;
}

function directCache(opts: { hotMaxSize: number; maxMetadataSize: number; clock: FakeClock }): {
  docs: TieredDocCache;
  hot: HotTier<HotValue>;
  index: MetaIndex;
  spy: { store: MetaStore<DocRecord>; walks: number };
} {
  const config = makeConfig('/nonexistent');
  const spy = countingStore(openMetaStores('memory', '/nonexistent').open('docs', isDocRecord));
  const hot = createHotTier<HotValue>({ maxSize: opts.hotMaxSize, maxEntrySize: opts.hotMaxSize });
  const index = new MetaIndex(opts.maxMetadataSize);
  const docs = new TieredDocCache({
    store: spy.store,
    hot,
    policy: createPolicy(config),
    clock: opts.clock,
    log: pino({ level: 'silent' }),
    offline: () => false,
    revalidateTimeoutMs: 2000,
    index,
  });
  return { docs, hot, index, spy };
}

describe('bounded metadata', () => {
  it('removes negative entries from the store once ttl.notFound has passed', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    for (const id of ['nope.a', 'nope.b', 'nope.c']) await cache.docs.get(`flat:nuget.org:${id}`, 'metadata', 'nuget.org', notFound);
    await cache.docs.get('flat:nuget.org:real', 'metadata', 'nuget.org', okBody('{"versions":["1.0.0"]}'));
    await cache.settle();
    assert.equal((await cache.stats()).docs.notFound, 3);

    clock.advance(MIN + 1);
    // Any request gives the cache a turn to drop what expired; no request for those ids is needed.
    await cache.docs.get('flat:nuget.org:real', 'metadata', 'nuget.org', okBody('{"versions":["1.0.0"]}'));
    await cache.settle();
    const stats = await cache.stats();
    assert.equal(stats.docs.notFound, 0, 'the expired 404s are gone from the store');
    assert.equal(stats.docs.count, 1);
    assert.equal(stats.metadata.entries, 1);
  });

  it('removes negative entries that expired while nugate was down, at the next start', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const first = await open(t, dir, clock);
    await first.docs.get('flat:nuget.org:nope', 'metadata', 'nuget.org', notFound);
    await first.docs.get('flat:nuget.org:real', 'metadata', 'nuget.org', okBody('{}'));
    await first.close();
    clock.advance(10 * MIN);
    const second = await open(t, dir, clock);
    await second.settle();
    const stats = await second.stats();
    assert.equal(stats.docs.notFound, 0);
    assert.equal(stats.docs.count, 1);
  });

  it('caps the metadata tier at cache.maxMetadataSize, least recently stored or used first', async (t) => {
    const clock = new FakeClock();
    const body = 'x'.repeat(1000);
    const perDoc = body.length + 'flat:nuget.org:id00'.length + META_RECORD_OVERHEAD;
    const cache = await open(t, await tempDir(t), clock, { maxMetadataSize: 10 * perDoc });
    for (let i = 0; i < 10; i++) await cache.docs.get(`flat:nuget.org:id${String(i).padStart(2, '0')}`, 'metadata', 'nuget.org', okBody(body));
    // id00 is used again: id01 is now the least recently stored or used.
    assert.equal((await cache.docs.get('flat:nuget.org:id00', 'metadata', 'nuget.org', okBody(body))).state, 'HIT');
    for (let i = 10; i < 13; i++) await cache.docs.get(`flat:nuget.org:id${i}`, 'metadata', 'nuget.org', okBody(body));
    await cache.settle();

    const stats = await cache.stats();
    assert.ok(stats.metadata.bytes <= 10 * perDoc, `${stats.metadata.bytes} <= ${10 * perDoc}`);
    assert.equal(stats.docs.count, 10, 'what the store holds matches the accounting');
    assert.equal(stats.metadata.entries, 10);
    const kept = new Set<string>();
    for await (const [key] of cache.docs.entries('flat:')) kept.add(key);
    assert.ok(kept.has('flat:nuget.org:id00'), 'used recently: kept');
    for (const gone of ['id01', 'id02', 'id03']) assert.ok(!kept.has(`flat:nuget.org:${gone}`), `${gone} evicted`);
    assert.ok(kept.has('flat:nuget.org:id12'));
  });

  it('applies a smaller cap to what a previous run stored (one walk at start-up), oldest first', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const body = 'y'.repeat(2000);
    const first = await open(t, dir, clock);
    for (let i = 0; i < 8; i++) {
      await first.docs.get(`reg:nuget.org:p${i}`, 'metadata', 'nuget.org', okBody(body));
      clock.advance(1000);
    }
    await first.close();
    const perDoc = body.length + 'reg:nuget.org:p0'.length + META_RECORD_OVERHEAD;
    const second = await open(t, dir, clock, { maxMetadataSize: 3 * perDoc });
    await second.settle();
    const kept: string[] = [];
    for await (const [key] of second.docs.entries('reg:')) kept.push(key);
    assert.deepEqual(kept.sort(), ['reg:nuget.org:p5', 'reg:nuget.org:p6', 'reg:nuget.org:p7']);
  });

  it('evicts exact keys without walking the store', async () => {
    const clock = new FakeClock();
    const { docs, spy } = directCache({ hotMaxSize: 1 << 24, maxMetadataSize: 1 << 30, clock });
    for (let i = 0; i < 2000; i++) await docs.get(`reg:nuget.org:pkg${i}`, 'metadata', 'nuget.org', okBody('{}'));
    await docs.get('reg:nuget.org:foo', 'metadata', 'nuget.org', okBody('{"foo":1}'));
    await docs.get('reg:nuget.org:foo.bar', 'metadata', 'nuget.org', okBody('{"foo.bar":1}'));
    const walksBefore = spy.walks;
    await docs.evictKeys(['reg:nuget.org:foo', 'flat:nuget.org:foo']);
    assert.equal(spy.walks, walksBefore, 'no walk over the store');
    assert.equal(await spy.store.get('reg:nuget.org:foo'), undefined);
    assert.notEqual(await spy.store.get('reg:nuget.org:foo.bar'), undefined);
  });

  it('keeps the hot tier within hotMaxSize and plateaus under 200k distinct 404s', async () => {
    const clock = new FakeClock();
    const hotMaxSize = 2 * 1024 * 1024;
    const maxMetadataSize = 4 * 1024 * 1024;
    const { docs, hot, index } = directCache({ hotMaxSize, maxMetadataSize, clock });
    const counts: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      await docs.get(`flat:nuget.org:random.package.${i}`, 'metadata', 'nuget.org', notFound);
      if (i % 50_000 === 49_999) counts.push(hot.size);
    }
    await docs.settle();
    assert.ok(hot.bytes <= hotMaxSize, `hot ${hot.bytes} <= ${hotMaxSize}`);
    assert.ok(index.bytes <= maxMetadataSize, `metadata ${index.bytes} <= ${maxMetadataSize}`);
    // Each entry is charged what it really costs (key + records + lru slots, measured), not 256 B.
    assert.ok(hot.size <= hotMaxSize / HOT_ENTRY_OVERHEAD, `${hot.size} entries`);
    const [first, ...rest] = counts;
    assert.ok(first !== undefined && first > 0);
    for (const n of rest) assert.ok(Math.abs(n - first) <= first * 0.02, `entry count plateaus: ${counts.join(', ')}`);
    let stored = 0;
    for await (const _ of docs.entries('')) stored++;
    assert.equal(stored, index.size, 'the store holds only what is accounted');
    assert.ok(stored <= maxMetadataSize / META_RECORD_OVERHEAD);
  });
});
