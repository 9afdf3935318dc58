/**
 * Prometheus metrics: requests by resource, status and cache state, latency, and breaker state per upstream.
 * Label values are only ever taken from the fixed sets in labels.ts, so the number of series has a ceiling
 * whatever clients send.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Source } from '../sources/source.ts';
import { CACHE_STATES, RESOURCES, STATUS_LABELS, cacheIndex, resourceIndex, statusIndex, type ResourceLabel } from './labels.ts';
import { Tally } from './tally.ts';

export interface Metrics {
  registry: Registry;
  /** One answered request; `cache` is its X-Cache state, if any. */
  observe(resource: ResourceLabel, status: number, cache: string | null | undefined, seconds: number): void;
  /** One request that read auth refused: all of them share one series, whatever they asked for. */
  rejected(): void;
}

export function createMetrics(upstreams: ReadonlyArray<Pick<Source, 'name' | 'health'>>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counted = new Tally(['resource', 'status', 'cache'], [RESOURCES, STATUS_LABELS, CACHE_STATES]);
  new Counter({
    name: 'nugate_http_requests_total',
    help: 'HTTP requests served',
    labelNames: ['resource', 'status', 'cache'],
    registers: [registry],
    collect() {
      counted.flushInto(this);
    },
  });
  const unauthorized = counted.slot(resourceIndex('unauthorized'), STATUS_LABELS.indexOf('401'), cacheIndex('-'));
  const latency = new Histogram({
    name: 'nugate_http_request_duration_seconds',
    help: 'Time to response headers',
    labelNames: ['resource', 'cache'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'nugate_upstream_breaker_open',
    help: '1 when the upstream breaker is open or half-open',
    labelNames: ['upstream'],
    registers: [registry],
    collect() {
      for (const u of upstreams) this.set({ upstream: u.name }, u.health() === 'closed' ? 0 : 1);
    },
  });
  // One label object per (resource, cache) pair, made once: the histogram is given the same object every time.
  const latencyLabels = RESOURCES.flatMap((resource) => CACHE_STATES.map((cache) => ({ resource, cache })));
  return {
    registry,
    observe(resource, status, cache, seconds) {
      const r = resourceIndex(resource);
      const c = cacheIndex(cache);
      counted.add(counted.slot(r, statusIndex(status), c));
      const labels = latencyLabels[r * CACHE_STATES.length + c];
      if (labels !== undefined) latency.observe(labels, seconds);
    },
    rejected() {
      counted.add(unauthorized);
    },
  };
}
