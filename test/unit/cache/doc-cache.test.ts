import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createCache, type Cache } from '../../../src/cache/index.ts';
import type { DocLoader, LoadResult, StoredDoc } from '../../../src/cache/types.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import { NugateError, UpstreamError } from '../../../src/errors.ts';
import { counter, FakeClock, makeConfig, tempDir, until } from './support.ts';

const MIN = 60_000;

type CacheOptions = Partial<NonNullable<ConfigInput['cache']>>;

async function open(t: TestContext, dir: string, clock: FakeClock, cache: CacheOptions = {}, extra: { offline?: boolean } = {}): Promise<Cache> {
  const config = makeConfig(dir, cache, extra.offline === undefined ? {} : { offline: extra.offline });
  const c = await createCache({ config, clock });
  t.after(() => c.close());
  return c;
}

/** A deadline so short that a loader the test has not released yet always misses it. */
const MISSED_DEADLINE: CacheOptions = { revalidateTimeout: 1 };

function ok(body: string, etag?: string): LoadResult {
  return { kind: 'ok', body, validators: etag === undefined ? {} : { etag } };
}

/** A loader whose answers the test releases one by one. */
function deferredLoader(): { loader: DocLoader; readonly calls: number; resolve(r: LoadResult): void; reject(e: Error): void } {
  const pending: Array<{ resolve(r: LoadResult): void; reject(e: Error): void }> = [];
  let calls = 0;
  return {
    loader: () =>
      new Promise<LoadResult>((resolve, reject) => {
        calls++;
        pending.push({ resolve, reject });
      }),
    get calls() {
      return calls;
    },
    resolve: (r) => pending.shift()?.resolve(r),
    reject: (e) => pending.shift()?.reject(e),
  };
}

function refused(): UpstreamError {
  const cause = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
  return new UpstreamError('nuget.org', 'request failed: https://feed.internal.example/v3/index.json: connect ECONNREFUSED 10.0.0.1:443', { cause });
}

describe('DocCache', () => {
  it('answers a second get and a restart from the cache (zero loader calls)', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const load = counter(async () => ok('{"v":1}', '"e1"'));
    const first = await open(t, dir, clock);
    const miss = await first.docs.get('reg:nuget.org:newtonsoft.json', 'metadata', 'nuget.org', load.fn);
    assert.equal(miss.state, 'MISS');
    assert.equal(miss.doc.body, '{"v":1}');
    assert.deepEqual(miss.doc.validators, { etag: '"e1"' });
    assert.equal(load.calls, 1);

    const hit = await first.docs.get('reg:nuget.org:newtonsoft.json', 'metadata', 'nuget.org', load.fn);
    assert.equal(hit.state, 'HIT');
    assert.equal(load.calls, 1);
    await first.close();

    const restarted = await open(t, dir, clock);
    clock.advance(MIN);
    const again = await restarted.docs.get('reg:nuget.org:newtonsoft.json', 'metadata', 'nuget.org', load.fn);
    assert.equal(again.state, 'HIT');
    assert.equal(again.doc.body, '{"v":1}');
    assert.equal(again.ageMs, MIN);
    assert.equal(load.calls, 1);
  });

  // Issue 8: after the TTL the first answer was always the stale copy (unbounded stale-while-revalidate), so a
  // version published upstream was not visible on the first request after ttl.metadata.
  it('a version published upstream is visible on the first request after the TTL', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let versions = '["1.0.0"]';
    const seen: Array<StoredDoc | undefined> = [];
    const load = counter(async (stale: StoredDoc | undefined) => {
      seen.push(stale);
      return ok(`{"versions":${versions}}`);
    });
    await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', load.fn);
    versions = '["1.0.0","2.0.0"]';
    clock.advance(5 * MIN - 1);
    const fresh = await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', load.fn);
    assert.equal(fresh.state, 'HIT', 'within the TTL the copy is served as is');
    assert.equal(fresh.doc.body, '{"versions":["1.0.0"]}');

    clock.advance(2);
    const first = await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', load.fn);
    assert.equal(first.doc.body, '{"versions":["1.0.0","2.0.0"]}', 'the first answer after the TTL has the new version');
    assert.equal(first.state, 'MISS');
    assert.equal(first.ageMs, 0);
    assert.equal(first.staleReason, undefined);
    assert.equal(seen[1]?.body, '{"versions":["1.0.0"]}', 'the loader receives the stored copy to revalidate');
    assert.equal((await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 2);
  });

  it('revalidates conditionally: notModified refreshes storedAt and answers REVALIDATED on that call', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let answer: LoadResult = ok('{"a":1}', '"v1"');
    const seen: Array<StoredDoc | undefined> = [];
    const load = counter(async (stale: StoredDoc | undefined) => {
      seen.push(stale);
      return answer;
    });
    const first = await cache.docs.get('k', 'search', 'nuget.org', load.fn);
    const storedAt = first.doc.storedAt;
    clock.advance(MIN + 1); // search TTL is 1m
    answer = { kind: 'notModified', validators: { lastModified: 'Tue, 01 Dec 2026 00:00:00 GMT' } };
    const revalidated = await cache.docs.get('k', 'search', 'nuget.org', load.fn);
    assert.deepEqual(seen[1]?.validators, { etag: '"v1"' }, 'the loader sees the stored validators');
    assert.equal(revalidated.state, 'REVALIDATED');
    assert.equal(revalidated.doc.body, '{"a":1}');
    assert.equal(revalidated.ageMs, 0);
    assert.equal(revalidated.doc.storedAt, storedAt + MIN + 1);
    assert.deepEqual(revalidated.doc.validators, { etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 00:00:00 GMT' });
    assert.equal((await cache.docs.get('k', 'search', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 2);
  });

  it('serves the stale copy when the upstream misses the deadline, and stores the late answer for the next request', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock, MISSED_DEADLINE);
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"v":1}'));
    clock.advance(10 * MIN);
    const slow = deferredLoader();
    const stale = await cache.docs.get('k', 'metadata', 'nuget.org', slow.loader);
    assert.equal(slow.calls, 1, 'a revalidation was started');
    assert.equal(stale.state, 'STALE');
    assert.equal(stale.doc.body, '{"v":1}');
    assert.equal(stale.ageMs, 10 * MIN);
    assert.equal(stale.staleReason, 'upstream "nuget.org" unavailable (timeout)');

    // A request while the revalidation still runs joins it (no second upstream request).
    const joined = await cache.docs.get('k', 'metadata', 'nuget.org', slow.loader);
    assert.equal(joined.state, 'STALE');
    assert.equal(slow.calls, 1);

    slow.resolve(ok('{"v":2}'));
    await cache.settle();
    const next = await cache.docs.get('k', 'metadata', 'nuget.org', slow.loader);
    assert.equal(next.state, 'HIT');
    assert.equal(next.doc.body, '{"v":2}', 'the late revalidation was stored');
    assert.equal(slow.calls, 1);
  });

  it('a late revalidation that fails keeps the stale copy for the next request', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock, MISSED_DEADLINE);
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"v":1}'));
    clock.advance(10 * MIN);
    const slow = deferredLoader();
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', slow.loader)).state, 'STALE');
    slow.reject(refused());
    await cache.settle();
    const again = await cache.docs.get('k', 'metadata', 'nuget.org', async () => {
      throw refused();
    });
    assert.equal(again.state, 'STALE');
    assert.equal(again.doc.body, '{"v":1}');
  });

  it('revalidate: true reloads a fresh copy before answering, and joins a load already running', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', async () => ok('{"versions":["1.0.0"]}'));
    const d = deferredLoader();
    const a = cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', d.loader, { revalidate: true });
    const b = cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', d.loader, { revalidate: true });
    await until(() => d.calls === 1, 'the loader');
    d.resolve(ok('{"versions":["1.0.0","1.1.0"]}'));
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(d.calls, 1, 'one upstream request for both');
    for (const r of [ra, rb]) {
      assert.equal(r.state, 'MISS');
      assert.equal(r.doc.body, '{"versions":["1.0.0","1.1.0"]}');
    }
    // Without the option, the (now refreshed) copy is fresh.
    const plain = counter(async () => ok('{}'));
    assert.equal((await cache.docs.get('flat:nuget.org:x', 'metadata', 'nuget.org', plain.fn)).state, 'HIT');
    assert.equal(plain.calls, 0);
  });

  it('revalidate: true follows the same stale fallback when the upstream fails', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"v":1}'));
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', async () => {
      throw refused();
    }, { revalidate: true });
    assert.equal(r.state, 'STALE');
    assert.equal(r.doc.body, '{"v":1}');
    assert.equal(r.staleReason, 'upstream "nuget.org" unavailable (connection refused)');
  });

  it('uses the TTL of the kind and the per-upstream override; immutable never expires', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    const load = counter(async () => ok('{}'));
    await cache.docs.get('m', 'metadata', 'nuget.org', load.fn);
    await cache.docs.get('s', 'search', 'nuget.org', load.fn);
    await cache.docs.get('i', 'serviceIndex', 'nuget.org', load.fn);
    await cache.docs.get('o', 'metadata', 'slow', load.fn); // upstream "slow" has ttl.metadata 1h
    await cache.docs.get('x', 'immutable', 'nuget.org', load.fn);
    assert.equal(load.calls, 5);
    clock.advance(2 * MIN);
    assert.equal((await cache.docs.get('s', 'search', 'nuget.org', load.fn)).state, 'MISS', 'search expired: reloaded');
    assert.equal((await cache.docs.get('m', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 6);
    clock.advance(10 * MIN);
    assert.equal((await cache.docs.get('m', 'metadata', 'nuget.org', load.fn)).state, 'MISS', 'metadata expired: reloaded');
    assert.equal((await cache.docs.get('o', 'metadata', 'slow', load.fn)).state, 'HIT');
    assert.equal((await cache.docs.get('i', 'serviceIndex', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 7);
    clock.advance(365 * 24 * 60 * MIN);
    assert.equal((await cache.docs.get('x', 'immutable', 'nuget.org', load.fn)).state, 'HIT');
  });

  it('caches a 404 for ttl.notFound, then reloads it', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let answer: LoadResult = { kind: 'notFound' };
    const load = counter(async () => answer);
    const first = await cache.docs.get('idx:nuget.org:new.pkg', 'metadata', 'nuget.org', load.fn);
    assert.equal(first.doc.status, 404);
    assert.equal(first.doc.body, '');
    assert.equal(first.state, 'MISS');
    clock.advance(MIN - 1);
    const cached = await cache.docs.get('idx:nuget.org:new.pkg', 'metadata', 'nuget.org', load.fn);
    assert.equal(cached.state, 'HIT');
    assert.equal(cached.doc.status, 404);
    assert.equal(load.calls, 1);

    clock.advance(2);
    answer = ok('{"versions":["1.0.0"]}');
    const reloaded = await cache.docs.get('idx:nuget.org:new.pkg', 'metadata', 'nuget.org', load.fn);
    assert.equal(load.calls, 2);
    assert.equal(reloaded.state, 'MISS');
    assert.equal(reloaded.doc.status, 200);
    assert.equal((await cache.docs.get('idx:nuget.org:new.pkg', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
  });

  it('coalesces concurrent misses into one loader call', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const d = deferredLoader();
    const gets = Array.from({ length: 20 }, () => cache.docs.get('k', 'metadata', 'nuget.org', d.loader));
    await until(() => d.calls > 0, 'the loader');
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(d.calls, 1);
    d.resolve(ok('{"one":true}'));
    const results = await Promise.all(gets);
    assert.equal(d.calls, 1);
    for (const r of results) {
      assert.equal(r.state, 'MISS');
      assert.equal(r.doc.body, '{"one":true}');
    }
  });

  it('coalesces concurrent revalidations of an expired copy into one loader call', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"v":1}'));
    clock.advance(6 * MIN);
    const d = deferredLoader();
    const gets = Array.from({ length: 10 }, () => cache.docs.get('k', 'metadata', 'nuget.org', d.loader));
    await until(() => d.calls > 0, 'the loader');
    d.resolve({ kind: 'notModified' });
    const results = await Promise.all(gets);
    assert.equal(d.calls, 1);
    for (const r of results) assert.equal(r.state, 'REVALIDATED');
  });

  it('never caches a loader that throws, and rethrows when nothing is cached', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const failing = counter(async (): Promise<LoadResult> => {
      throw new UpstreamError('nuget.org', 'answered 503');
    });
    await assert.rejects(cache.docs.get('k', 'metadata', 'nuget.org', failing.fn), UpstreamError);
    await assert.rejects(cache.docs.get('k', 'metadata', 'nuget.org', failing.fn), UpstreamError);
    assert.equal(failing.calls, 2, 'the failure was not cached');
    const good = counter(async () => ok('{"ok":1}'));
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', good.fn);
    assert.equal(r.state, 'MISS');
    assert.equal(good.calls, 1);
  });

  it('refuses a notModified answer when nothing is cached', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    await assert.rejects(cache.docs.get('k', 'metadata', 'nuget.org', async () => ({ kind: 'notModified' })), UpstreamError);
    const good = counter(async () => ok('{}'));
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', good.fn)).state, 'MISS');
  });

  it('serves the cached copy with STALE and a reason that names no URL, host or address (stale-if-error)', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let fail = false;
    const load = counter(async (): Promise<LoadResult> => {
      if (fail) throw refused();
      return ok('{"good":1}');
    });
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    clock.advance(3 * 60 * MIN);
    fail = true;
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'STALE');
    assert.equal(r.doc.body, '{"good":1}');
    assert.equal(r.ageMs, 3 * 60 * MIN);
    assert.equal(r.staleReason, 'upstream "nuget.org" unavailable (connection refused)');
    assert.doesNotMatch(r.staleReason ?? '', /10\.0\.0\.1|feed\.internal|https?:/);

    // Once the upstream is back, the next request revalidates and the reason goes away.
    fail = false;
    const healed = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(healed.state, 'MISS');
    assert.equal(healed.staleReason, undefined);
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
  });

  it('names an upstream status by its number only', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ok('{}'));
    clock.advance(10 * MIN);
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', async () => {
      throw new UpstreamError('nuget.org', 'https://10.1.2.3/v3/flat/x/index.json answered 503');
    });
    assert.equal(r.staleReason, 'upstream "nuget.org" unavailable (HTTP 503)');
  });

  it('never serves an expired 404 copy: when its reload fails, the failure is the answer', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    await cache.docs.get('k', 'metadata', 'nuget.org', async () => ({ kind: 'notFound' }));
    clock.advance(MIN + 1);
    await assert.rejects(
      cache.docs.get('k', 'metadata', 'nuget.org', async () => {
        throw new UpstreamError('nuget.org', 'answered 502');
      }),
      /answered 502/,
    );
  });

  it('keeps search answers in memory only: metadata survives a restart, search is asked again', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const first = await open(t, dir, clock);
    const meta = counter(async () => ok('{"versions":["1.0.0"]}'));
    const search = counter(async () => ok('{"totalHits":0,"data":[]}'));
    await first.docs.get('flat:u:x', 'metadata', 'u', meta.fn);
    await first.docs.get('search:u:q=x', 'search', 'u', search.fn);
    assert.equal((await first.docs.get('search:u:q=x', 'search', 'u', search.fn)).state, 'HIT', 'served from memory while fresh');
    await first.close();
    const second = await open(t, dir, clock);
    assert.equal((await second.docs.get('flat:u:x', 'metadata', 'u', meta.fn)).state, 'HIT');
    assert.equal((await second.docs.get('search:u:q=x', 'search', 'u', search.fn)).state, 'MISS');
    assert.equal(meta.calls, 1);
    assert.equal(search.calls, 2);
  });

  it('evictSearches forgets every search answer and nothing else', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    const load = counter(async () => ok('{}'));
    await cache.docs.get('search:u:q=a', 'search', 'u', load.fn);
    await cache.docs.get('autocomplete:u:q=a', 'search', 'u', load.fn);
    await cache.docs.get('flat:u:a', 'metadata', 'u', load.fn);
    cache.docs.evictSearches();
    assert.equal((await cache.docs.get('search:u:q=a', 'search', 'u', load.fn)).state, 'MISS');
    assert.equal((await cache.docs.get('autocomplete:u:q=a', 'search', 'u', load.fn)).state, 'MISS');
    assert.equal((await cache.docs.get('flat:u:a', 'metadata', 'u', load.fn)).state, 'HIT');
  });

  it('offline: cached copies of any age are HITs, missing ones are NotFound, and no loader runs', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const online = await open(t, dir, clock);
    await online.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"cached":1}'));
    await online.close();

    const offline = await open(t, dir, clock, {}, { offline: true });
    clock.advance(30 * 24 * 60 * MIN);
    const load = counter(async () => ok('{"never":1}'));
    const r = await offline.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'HIT');
    assert.equal(r.doc.body, '{"cached":1}');
    assert.equal((await offline.docs.get('k', 'metadata', 'nuget.org', load.fn, { revalidate: true })).state, 'HIT');
    await assert.rejects(offline.docs.get('missing', 'metadata', 'nuget.org', load.fn), (err: unknown) => err instanceof NugateError && err.status === 404);
    await offline.docs.settle();
    assert.equal(load.calls, 0);
  });

  // Issue 8: evicting `foo` also evicted `foo.bar` (prefix match), and every eviction walked the store.
  it('evictKeys is exact, and an in-flight load of an evicted key does not resurrect it', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const cache = await open(t, dir, clock);
    const load = counter(async () => ok('{}'));
    await cache.docs.get('reg:nuget.org:contoso', 'metadata', 'nuget.org', load.fn);
    await cache.docs.get('reg:nuget.org:contoso.bar', 'metadata', 'nuget.org', load.fn);
    const d = deferredLoader();
    const inflight = cache.docs.get('flat:nuget.org:contoso', 'metadata', 'nuget.org', d.loader);
    await until(() => d.calls === 1, 'the loader');

    await cache.docs.evictKeys(['reg:nuget.org:contoso', 'flat:nuget.org:contoso']);
    d.resolve(ok('{"old":1}'));
    assert.equal((await inflight).doc.body, '{"old":1}', 'the waiting client still gets its answer');

    await cache.close();
    const reopened = await open(t, dir, clock);
    const after = counter(async () => ok('{"new":1}'));
    assert.equal((await reopened.docs.get('reg:nuget.org:contoso', 'metadata', 'nuget.org', after.fn)).state, 'MISS');
    assert.equal((await reopened.docs.get('flat:nuget.org:contoso', 'metadata', 'nuget.org', after.fn)).state, 'MISS', 'not stored by the load that was in flight');
    assert.equal((await reopened.docs.get('reg:nuget.org:contoso.bar', 'metadata', 'nuget.org', after.fn)).state, 'HIT', 'foo.bar survives evicting foo');
    assert.equal(after.calls, 2);
  });

  it('evicts from the hot tier of the running instance too', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    await cache.docs.get('a:1', 'metadata', 'nuget.org', async () => ok('{}'));
    await cache.docs.evictKeys(['a:1']);
    const load = counter(async () => ok('{"again":1}'));
    assert.equal((await cache.docs.get('a:1', 'metadata', 'nuget.org', load.fn)).state, 'MISS');
    assert.equal(load.calls, 1);
  });
});
