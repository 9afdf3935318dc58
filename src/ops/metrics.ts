/**
 * Prometheus metrics: requests by resource, status and cache state, latency, and breaker state per upstream.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import type { Upstream } from '../upstream/upstream.ts';

export interface Metrics {
  registry: Registry;
  observe(resource: string, status: number, cache: string, seconds: number): void;
}

export function createMetrics(upstreams: Upstream[]): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'nugate_http_requests_total', help: 'HTTP requests served', labelNames: ['resource', 'status', 'cache'], registers: [registry] });
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
      for (const u of upstreams) this.set({ upstream: u.name }, u.breaker.state() === 'closed' ? 0 : 1);
    },
  });
  return {
    registry,
    observe(resource, status, cache, seconds) {
      requests.inc({ resource, status: String(status), cache });
      latency.observe({ resource, cache }, seconds);
    },
  };
}
