/**
 * Cache answers by kind, tier and outcome, and evictions by tier (issue 12): the cache reports through a
 * CacheObserver (cache/types.ts) created before the cache itself, and the counters join the registry once it exists.
 * Every label value comes from a fixed set.
 */
import { Counter, type Registry } from 'prom-client';
import type { CacheObserver } from '../cache/types.ts';

export interface CacheMetrics {
  observer: CacheObserver;
  register(registry: Registry): void;
}

export function createCacheMetrics(): CacheMetrics {
  const results = new Counter({
    name: 'nugate_cache_tier_results_total',
    help: 'Cache answers by kind (document, package), tier (rendered, memory, store, upstream) and outcome (hit, miss, stale, revalidated, coalesced)',
    labelNames: ['kind', 'tier', 'outcome'],
    registers: [],
  });
  const evictions = new Counter({ name: 'nugate_cache_evictions_total', help: 'Entries evicted to stay within a cap, by tier (memory, metadata, disk)', labelNames: ['tier'], registers: [] });
  return {
    observer: {
      result(kind, tier, outcome) {
        results.inc({ kind, tier, outcome });
      },
      evicted(tier, count) {
        evictions.inc({ tier }, count);
      },
    },
    register(registry) {
      registry.registerMetric(results);
      registry.registerMetric(evictions);
    },
  };
}
