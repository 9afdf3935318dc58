/**
 * Metrics for traffic at nugate's edges: per upstream (requests by result, latency, bytes, errors by kind,
 * breaker state, connections opened and open), what nugate served (cache results per resource, bytes), and the
 * cache's sizes. Every label value comes from a fixed set: upstream names are the configured ones (anything
 * else is "other"), results and kinds are enumerated here.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ExchangeObserver, UpstreamExchange } from '../upstream/observe.ts';
import type { UpstreamFailure } from '../errors.ts';
import type { CacheSummary } from '../cache/index.ts';
import { CACHE_STATES, RESOURCES, cacheIndex, resourceIndex, type ResourceLabel } from './labels.ts';
import { Tally } from './tally.ts';

/** What an upstream answer was, from its status (or its failure). */
export const UPSTREAM_RESULTS = ['ok', 'notModified', 'notFound', 'rateLimited', 'refused', 'clientError', 'serverError', 'error'] as const;
export type UpstreamResult = (typeof UPSTREAM_RESULTS)[number];

/** UpstreamError reasons, plus 'status' for a 5xx answer: the kinds an upstream failure is counted under. */
const FAILURE_KINDS: ReadonlySet<UpstreamFailure> = new Set(['timeout', 'connect', 'too-large', 'invalid-body', 'redirect', 'status', 'refused', 'aborted']);

const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/**
 * @example
 * upstreamResult({ status: 404 }) // 'notFound'
 * upstreamResult({ failure: 'timeout' }) // 'error'
 */
export function upstreamResult(x: Pick<UpstreamExchange, 'status' | 'failure'>): UpstreamResult {
  const s = x.status;
  if (s === undefined) return 'error';
  if (s >= 200 && s < 300) return x.failure === undefined ? 'ok' : 'error';
  if (s === 304) return 'notModified';
  if (s === 404 || s === 410) return 'notFound';
  if (s === 429) return 'rateLimited';
  if (s === 401 || s === 403 || s === 407) return 'refused';
  if (s >= 500) return 'serverError';
  return 'clientError';
}

export interface UpstreamMetricsOptions {
  upstreams: ReadonlyArray<{ name: string; health(): (typeof BREAKER_STATES)[number] }>;
  /** Running totals of the cache tiers (no walk): read at scrape time. */
  summary?: () => CacheSummary;
}

export interface UpstreamMetrics {
  /** The observer to register for an upstream's dispatcher (upstream/observe.ts). */
  observer: ExchangeObserver;
  /** A connection opened or closed by the upstream's dispatcher. */
  connection(upstream: string, event: 'open' | 'close'): void;
  /** One answered client request: its cache result per resource, and the bytes sent. */
  served(resource: ResourceLabel, cache: string | null | undefined, bytes: number): void;
}

export function createUpstreamMetrics(registry: Registry, opts: UpstreamMetricsOptions): UpstreamMetrics {
  const names = new Set(opts.upstreams.map((u) => u.name));
  const label = (name: string): string => (names.has(name) ? name : 'other');
  const registers = [registry];
  const requests = new Counter({ name: 'nugate_upstream_requests_total', help: 'Requests sent to upstreams, by result', labelNames: ['upstream', 'result'], registers });
  const errors = new Counter({ name: 'nugate_upstream_errors_total', help: 'Upstream requests that failed, by kind (UpstreamError reason; status = a 5xx answer)', labelNames: ['upstream', 'kind'], registers });
  const latency = new Histogram({
    name: 'nugate_upstream_request_duration_seconds',
    help: 'Time from sending an upstream request to its response headers',
    labelNames: ['upstream'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const bytesIn = new Counter({ name: 'nugate_upstream_received_bytes_total', help: 'Decoded body bytes received from upstreams', labelNames: ['upstream'], registers });
  const opened = new Counter({ name: 'nugate_upstream_connections_opened_total', help: 'Connections opened to upstreams (requests per connection = requests / this)', labelNames: ['upstream'], registers });
  const open = new Gauge({ name: 'nugate_upstream_connections_open', help: 'Connections to upstreams open now', labelNames: ['upstream'], registers });
  new Gauge({
    name: 'nugate_upstream_breaker_state',
    help: '1 for the breaker state each upstream is in',
    labelNames: ['upstream', 'state'],
    registers,
    collect() {
      for (const u of opts.upstreams) {
        const now = u.health();
        for (const state of BREAKER_STATES) this.set({ upstream: u.name, state }, state === now ? 1 : 0);
      }
    },
  });
  // Touched by every answer: counted in arrays, handed to prom-client when /metrics is read (ops/tally.ts).
  const results = new Tally(['resource', 'result'], [RESOURCES, CACHE_STATES.map((s) => (s === '-' ? 'none' : s.toLowerCase()))]);
  const sent = new Tally(['resource'], [RESOURCES]);
  new Counter({
    name: 'nugate_cache_results_total',
    help: 'Answers by resource and cache result (hit, miss, stale, revalidated; none = not cacheable)',
    labelNames: ['resource', 'result'],
    registers,
    collect() {
      results.flushInto(this);
    },
  });
  new Counter({
    name: 'nugate_served_bytes_total',
    help: 'Bytes sent to clients (headers included), by resource',
    labelNames: ['resource'],
    registers,
    collect() {
      sent.flushInto(this);
    },
  });
  const summary = opts.summary;
  if (summary !== undefined) {
    // Read at scrape time from the running totals the tiers keep (no walk).
    const gauges: Array<[string, string, (t: CacheSummary['hot']) => number, (b: CacheSummary['blobs']) => number]> = [
      ['nugate_cache_bytes', 'Bytes held per cache tier', (t) => t.bytes, (b) => b.bytes],
      ['nugate_cache_entries', 'Entries held per cache tier', (t) => t.entries, (b) => b.count],
      ['nugate_cache_max_bytes', 'Configured cap per cache tier', (t) => t.maxSize, (b) => b.maxSize],
    ];
    for (const [name, help, tierValue, blobValue] of gauges) {
      new Gauge({
        name,
        help,
        labelNames: ['tier'],
        registers,
        collect() {
          const s = summary();
          this.set({ tier: 'hot' }, tierValue(s.hot));
          this.set({ tier: 'metadata' }, tierValue(s.metadata));
          this.set({ tier: 'blobs' }, blobValue(s.blobs));
        },
      });
    }
  }
  return {
    observer: {
      answered(x) {
        latency.observe({ upstream: label(x.upstream) }, x.ms / 1000);
      },
      finished(x) {
        const upstream = label(x.upstream);
        requests.inc({ upstream, result: upstreamResult(x) });
        if (x.failure !== undefined && FAILURE_KINDS.has(x.failure)) errors.inc({ upstream, kind: x.failure });
        else if (x.status !== undefined && x.status >= 500) errors.inc({ upstream, kind: 'status' });
        if (x.bytes > 0) bytesIn.inc({ upstream }, x.bytes);
      },
    },
    connection(upstream, event) {
      const name = label(upstream);
      if (event === 'open') {
        opened.inc({ upstream: name });
        open.inc({ upstream: name });
      } else open.dec({ upstream: name });
    },
    served(resource, cache, bytes) {
      const r = resourceIndex(resource);
      results.add(results.slot(r, cacheIndex(cache)));
      if (bytes > 0) sent.add(sent.slot(r), bytes);
    },
  };
}
