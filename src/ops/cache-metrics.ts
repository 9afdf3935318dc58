/**
 * Cache answers by kind, tier and outcome, and evictions by tier (issue 12): the cache reports through a
 * CacheObserver (cache/types.ts) created before the cache itself, and the counters join the registry once it exists.
 * Every label value comes from a fixed set.
 */
import { Counter, type Registry } from 'prom-client';
import type { CacheObserver, CacheOutcome, CacheTier } from '../cache/types.ts';
import { Tally } from './tally.ts';

// Positions of the label values (a Record, so a new tier or outcome cannot be left out).
const KIND_INDEX: Readonly<Record<'document' | 'package', number>> = { document: 0, package: 1 };
const TIER_INDEX: Readonly<Record<CacheTier, number>> = { memory: 0, store: 1, upstream: 2, rendered: 3 };
const OUTCOME_INDEX: Readonly<Record<CacheOutcome, number>> = { hit: 0, miss: 1, stale: 2, revalidated: 3, coalesced: 4 };

export interface CacheMetrics {
  observer: CacheObserver;
  register(registry: Registry): void;
}

export function createCacheMetrics(): CacheMetrics {
  // Every answer reports here: counted in an array, handed to prom-client when /metrics is read (ops/tally.ts).
  const counted = new Tally(['kind', 'tier', 'outcome'], [Object.keys(KIND_INDEX), Object.keys(TIER_INDEX), Object.keys(OUTCOME_INDEX)]);
  const results = new Counter({
    name: 'nugate_cache_tier_results_total',
    help: 'Cache answers by kind (document, package), tier (rendered, memory, store, upstream) and outcome (hit, miss, stale, revalidated, coalesced)',
    labelNames: ['kind', 'tier', 'outcome'],
    registers: [],
    collect() {
      counted.flushInto(this);
    },
  });
  const evictions = new Counter({ name: 'nugate_cache_evictions_total', help: 'Entries evicted to stay within a cap, by tier (memory, metadata, disk)', labelNames: ['tier'], registers: [] });
  return {
    observer: {
      result(kind, tier, outcome) {
        counted.add(counted.slot(KIND_INDEX[kind], TIER_INDEX[tier], OUTCOME_INDEX[outcome]));
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
