/**
 * The home page's recent activity: bounded, newest first, UI pages and probes left out; the hit ratio counts
 * answers made from held bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createActivity, hitRatio } from '../../../src/ui/activity.ts';

const req = (path: string, cache = 'HIT', status = 200) => ({ method: 'GET', path, status, cache, ms: 1 });

test('keeps the last N requests, newest first', () => {
  let now = 0;
  const a = createActivity(3, () => ++now);
  for (const p of ['/v3/a', '/v3/b', '/v3/c', '/v3/d']) a.record(req(p));
  assert.deepEqual(a.recent().map((e) => [e.path, e.at]), [['/v3/d', 4], ['/v3/c', 3], ['/v3/b', 2]]);
});

test('UI pages, probes and scrapes are not activity', () => {
  const a = createActivity(10, () => 0);
  for (const p of ['/', '/ui/search', '/ui/packages/x', '/health', '/ready', '/metrics', '/favicon.ico']) a.record(req(p, 'MISS'));
  assert.deepEqual(a.recent(), []);
  assert.equal(hitRatio(a.counts()), undefined);
  a.record(req('/uistuff/v3/index.json'));
  assert.equal(a.recent().length, 1);
});

test('hit ratio: HIT, STALE and REVALIDATED over every answer with a cache state; "-" is not counted', () => {
  const a = createActivity(10, () => 0);
  for (const c of ['HIT', 'HIT', 'STALE', 'REVALIDATED', 'MISS', 'MISS', 'MISS', 'MISS', '-']) a.record(req('/v3/x', c));
  assert.deepEqual(a.counts(), { hit: 2, stale: 1, revalidated: 1, miss: 4 });
  assert.equal(hitRatio(a.counts()), 0.5);
});

test('a long path is cut, and the size must be a positive integer', () => {
  const a = createActivity(1, () => 0);
  a.record(req(`/v3/${'x'.repeat(1000)}`));
  assert.equal(a.recent()[0]?.path.length, 200);
  assert.throws(() => createActivity(0, () => 0), /positive integer, got 0/);
});
