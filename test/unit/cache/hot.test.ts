import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHotTier } from '../../../src/cache/hot.ts';

describe('hot tier', () => {
  it('is bounded in bytes and drops the least recently used entry', () => {
    const hot = createHotTier<{ n: number }>({ maxSize: 100, maxEntrySize: 60 });
    hot.set('a', { n: 1 }, 40);
    hot.set('b', { n: 2 }, 40);
    assert.equal(hot.get('a')?.n, 1); // a is now more recent than b
    hot.set('c', { n: 3 }, 40);
    assert.equal(hot.get('b'), undefined);
    assert.equal(hot.get('a')?.n, 1);
    assert.equal(hot.get('c')?.n, 3);
    assert.ok(hot.bytes <= 100);
  });

  it('refuses entries above maxEntrySize and replaces an older copy by dropping it', () => {
    const hot = createHotTier<{ n: number }>({ maxSize: 100, maxEntrySize: 60 });
    hot.set('a', { n: 1 }, 10);
    hot.set('a', { n: 2 }, 61);
    assert.equal(hot.get('a'), undefined);
    assert.equal(hot.accepts(60), true);
    assert.equal(hot.accepts(61), false);
  });

  it('keeps nothing when its size is 0', () => {
    const hot = createHotTier<{ n: number }>({ maxSize: 0, maxEntrySize: 10 });
    hot.set('a', { n: 1 }, 1);
    assert.equal(hot.get('a'), undefined);
    assert.equal(hot.accepts(1), false);
  });
});
