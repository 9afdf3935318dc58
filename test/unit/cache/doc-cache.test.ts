import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createCache, type Cache } from '../../../src/cache/index.ts';
import type { DocLoader, LoadResult, StoredDoc } from '../../../src/cache/types.ts';
import { NugateError, UpstreamError } from '../../../src/errors.ts';
import { counter, FakeClock, makeConfig, tempDir, until } from './support.ts';

const MIN = 60_000;

async function open(t: TestContext, dir: string, clock: FakeClock, extra: { offline?: boolean; maxStaleMs?: number; store?: string } = {}): Promise<Cache> {
  const config = makeConfig(dir, extra.store === undefined ? {} : { store: extra.store }, extra.offline === undefined ? {} : { offline: extra.offline });
  const cache = await createCache({ config, clock, ...(extra.maxStaleMs === undefined ? {} : { maxStaleMs: extra.maxStaleMs }) });
  t.after(() => cache.close());
  return cache;
}

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

  it('serves stale at once after the TTL, revalidates in the background, then serves the new content', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let version = 1;
    const seen: Array<StoredDoc | undefined> = [];
    const load = counter(async (stale: StoredDoc | undefined) => {
      seen.push(stale);
      return ok(`{"v":${version}}`);
    });
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    clock.advance(5 * MIN - 1);
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', load.fn)).state, 'HIT');

    clock.advance(2);
    version = 2;
    const stale = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(stale.state, 'STALE');
    assert.equal(stale.doc.body, '{"v":1}', 'the stale copy comes back at once');
    assert.equal(stale.warning, undefined, 'no warning: nothing failed');
    // Concurrent stale answers share one background revalidation.
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    await cache.docs.settle();
    assert.equal(load.calls, 2);
    assert.equal(seen[1]?.body, '{"v":1}', 'the loader receives the stale copy');

    const fresh = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(fresh.state, 'HIT');
    assert.equal(fresh.doc.body, '{"v":2}');
    assert.equal(fresh.ageMs, 0);
    assert.equal(load.calls, 2);
  });

  it('revalidates conditionally: notModified refreshes storedAt and reports REVALIDATED once', async (t) => {
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
    assert.equal((await cache.docs.get('k', 'search', 'nuget.org', load.fn)).state, 'STALE');
    await cache.docs.settle();
    assert.deepEqual(seen[1]?.validators, { etag: '"v1"' }, 'the loader sees the stored validators');

    const revalidated = await cache.docs.get('k', 'search', 'nuget.org', load.fn);
    assert.equal(revalidated.state, 'REVALIDATED');
    assert.equal(revalidated.doc.body, '{"a":1}');
    assert.equal(revalidated.doc.storedAt, storedAt + MIN + 1);
    assert.deepEqual(revalidated.doc.validators, { etag: '"v1"', lastModified: 'Tue, 01 Dec 2026 00:00:00 GMT' });
    assert.equal((await cache.docs.get('k', 'search', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 2);
  });

  it('revalidates in the foreground past maxStaleMs and answers REVALIDATED on that call', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock, { maxStaleMs: MIN });
    let answer: LoadResult = ok('{"a":1}', '"v1"');
    const load = counter(async () => answer);
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    clock.advance(5 * MIN + MIN);
    answer = { kind: 'notModified' };
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'REVALIDATED');
    assert.equal(r.ageMs, 0);
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
    assert.equal(load.calls, 2);
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
    clock.advance(2 * MIN);
    assert.equal((await cache.docs.get('s', 'search', 'nuget.org', load.fn)).state, 'STALE');
    assert.equal((await cache.docs.get('m', 'metadata', 'nuget.org', load.fn)).state, 'HIT');
    clock.advance(10 * MIN);
    assert.equal((await cache.docs.get('m', 'metadata', 'nuget.org', load.fn)).state, 'STALE');
    assert.equal((await cache.docs.get('o', 'metadata', 'slow', load.fn)).state, 'HIT');
    assert.equal((await cache.docs.get('i', 'serviceIndex', 'nuget.org', load.fn)).state, 'HIT');
    clock.advance(365 * 24 * 60 * MIN);
    assert.equal((await cache.docs.get('x', 'immutable', 'nuget.org', load.fn)).state, 'HIT');
    await cache.docs.settle();
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
    assert.equal(reloaded.state, 'MISS', 'an expired 404 is reloaded in the foreground');
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

  it('serves the cached copy with STALE and a warning when the upstream fails (stale-if-error)', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock);
    let fail = false;
    const load = counter(async (): Promise<LoadResult> => {
      if (fail) throw new UpstreamError('nuget.org', 'connect ECONNREFUSED 10.0.0.1:443');
      return ok('{"good":1}');
    });
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    clock.advance(3 * 60 * MIN);
    fail = true;
    // First stale answer: served at once, the background refresh fails.
    assert.equal((await cache.docs.get('k', 'metadata', 'nuget.org', load.fn)).state, 'STALE');
    await cache.docs.settle();
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'STALE');
    assert.equal(r.doc.body, '{"good":1}');
    assert.equal(r.warning, 'nugate: upstream "nuget.org" failed (connect ECONNREFUSED 10.0.0.1:443); serving a cached copy from 3h ago');
    await cache.docs.settle();

    // Once the upstream is back, the warning goes away.
    fail = false;
    await cache.docs.settle();
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    await cache.docs.settle();
    const healed = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(healed.state, 'HIT');
    assert.equal(healed.warning, undefined);
  });

  it('stale-if-error also covers a foreground reload (an expired 404, or past maxStaleMs)', async (t) => {
    const clock = new FakeClock();
    const cache = await open(t, await tempDir(t), clock, { maxStaleMs: 0 });
    let fail = false;
    const load = counter(async (): Promise<LoadResult> => {
      if (fail) throw new UpstreamError('nuget.org', 'answered 502');
      return ok('{"good":1}');
    });
    await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    clock.advance(10 * MIN);
    fail = true;
    const r = await cache.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'STALE');
    assert.equal(r.ageMs, 10 * MIN);
    assert.match(r.warning ?? '', /^nugate: upstream "nuget\.org" failed \(answered 502\); serving a cached copy from 10m ago$/);
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

  it('offline: cached copies of any age are HITs, missing ones are NotFound, and no loader runs', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const online = await open(t, dir, clock);
    await online.docs.get('k', 'metadata', 'nuget.org', async () => ok('{"cached":1}'));
    await online.close();

    const offline = await open(t, dir, clock, { offline: true });
    clock.advance(30 * 24 * 60 * MIN);
    const load = counter(async () => ok('{"never":1}'));
    const r = await offline.docs.get('k', 'metadata', 'nuget.org', load.fn);
    assert.equal(r.state, 'HIT');
    assert.equal(r.doc.body, '{"cached":1}');
    await assert.rejects(offline.docs.get('missing', 'metadata', 'nuget.org', load.fn), (err: unknown) => err instanceof NugateError && err.status === 404);
    await offline.docs.settle();
    assert.equal(load.calls, 0);
  });

  it('evicts by prefix from the hot and metadata tiers, and an in-flight load does not resurrect it', async (t) => {
    const dir = await tempDir(t);
    const clock = new FakeClock();
    const cache = await open(t, dir, clock);
    const load = counter(async () => ok('{}'));
    await cache.docs.get('reg:nuget.org:contoso.a', 'metadata', 'nuget.org', load.fn);
    await cache.docs.get('reg:nuget.org:contoso.b', 'metadata', 'nuget.org', load.fn);
    await cache.docs.get('reg:nuget.org:other', 'metadata', 'nuget.org', load.fn);
    const d = deferredLoader();
    const inflight = cache.docs.get('reg:nuget.org:contoso.c', 'metadata', 'nuget.org', d.loader);
    await until(() => d.calls === 1, 'the loader');

    await cache.docs.evict(['reg:nuget.org:contoso.']);
    d.resolve(ok('{"old":1}'));
    assert.equal((await inflight).doc.body, '{"old":1}', 'the waiting client still gets its answer');

    await cache.close();
    const reopened = await open(t, dir, clock);
    const after = counter(async () => ok('{"new":1}'));
    assert.equal((await reopened.docs.get('reg:nuget.org:contoso.a', 'metadata', 'nuget.org', after.fn)).state, 'MISS');
    assert.equal((await reopened.docs.get('reg:nuget.org:contoso.c', 'metadata', 'nuget.org', after.fn)).state, 'MISS');
    assert.equal((await reopened.docs.get('reg:nuget.org:other', 'metadata', 'nuget.org', after.fn)).state, 'HIT');
    assert.equal(after.calls, 2);
  });

  it('evicts from the hot tier of the running instance too', async (t) => {
    const cache = await open(t, await tempDir(t), new FakeClock());
    await cache.docs.get('a:1', 'metadata', 'nuget.org', async () => ok('{}'));
    await cache.docs.evict(['a:']);
    const load = counter(async () => ok('{"again":1}'));
    assert.equal((await cache.docs.get('a:1', 'metadata', 'nuget.org', load.fn)).state, 'MISS');
    assert.equal(load.calls, 1);
  });
});
