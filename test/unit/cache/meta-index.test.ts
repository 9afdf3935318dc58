import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetaIndex } from '../../../src/cache/meta-index.ts';

describe('metadata accounting', () => {
  it('keeps a running total and names the least recently stored or used keys when over the cap', () => {
    const index = new MetaIndex(300);
    assert.deepEqual(index.record('a', 100), []);
    assert.deepEqual(index.record('b', 100), []);
    assert.deepEqual(index.record('c', 100), []);
    index.touch('a');
    assert.deepEqual(index.record('d', 150), ['b', 'c']);
    assert.equal(index.bytes, 250);
    assert.deepEqual(index.record('d', 50), [], 'a rewrite replaces the old size');
    assert.equal(index.bytes, 150);
    assert.equal(index.remove('a'), true);
    assert.equal(index.remove('a'), false);
    assert.equal(index.bytes, 50);
    assert.deepEqual(index.record('huge', 1000), ['d', 'huge'], 'an entry over the cap on its own goes too');
    assert.equal(index.bytes, 0);
  });

  it('expires negative entries in time order, whatever order they were stored in', () => {
    const index = new MetaIndex(1 << 20);
    index.record('long', 10, 5000);
    index.record('short', 10, 1000);
    index.record('mid', 10, 3000);
    index.record('positive', 10);
    assert.deepEqual(index.expired(999), []);
    assert.deepEqual(index.expired(1000), ['short']);
    assert.deepEqual(index.expired(4000), ['mid']);
    // Re-stored as a 200 before its expiry: it stays.
    index.record('long', 10);
    assert.deepEqual(index.expired(10_000), []);
    assert.equal(index.size, 2);
  });

  it('seeds what a start-up walk found as older than anything recorded since, oldest first', () => {
    const index = new MetaIndex(300);
    index.record('new', 100);
    const doomed = index.seed([
      { key: 'walked-2', bytes: 100, storedAt: 2 },
      { key: 'walked-1', bytes: 100, storedAt: 1 },
      { key: 'new', bytes: 999, storedAt: 0 },
      { key: 'gone-404', bytes: 100, storedAt: 0, expiresAt: 10 },
    ]);
    assert.deepEqual(doomed, ['gone-404'], 'over the cap: the oldest walked entry goes first');
    assert.equal(index.bytes, 300, 'the key written since start keeps its own size');
    assert.deepEqual(index.expired(100), [], 'a removed negative entry is not reported again');
  });
});
