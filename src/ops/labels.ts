/**
 * Metric label values. Every value comes from a fixed set, never from client-chosen text: a label taken from
 * the path let 3000 requests to random `/v3/<x>` paths grow /metrics from 10 KB to 5.2 MB (issue 8). What a
 * label cannot name is counted as "other".
 */

/** What a request asked for, from the route shape only. `unauthorized` is every request read auth refused. */
export const RESOURCES = ['service-index', 'flatcontainer', 'registration', 'search', 'autocomplete', 'vulnerabilities', 'package', 'explain', 'raw', 'health', 'metrics', 'unauthorized', 'other'] as const;
export type ResourceLabel = (typeof RESOURCES)[number];

/** The first path segment under a feed root (`/v3/` or `/upstreams/{name}/v3/`) → its label. */
const FEED_SEGMENTS: ReadonlyMap<string, ResourceLabel> = new Map([
  ['index.json', 'service-index'],
  ['flatcontainer', 'flatcontainer'],
  ['registration', 'registration'],
  ['registration-semver1', 'registration'],
  ['search', 'search'],
  ['autocomplete', 'autocomplete'],
  ['vulnerabilities', 'vulnerabilities'],
  ['package', 'package'],
  ['symbolpackage', 'package'],
  ['explain', 'explain'],
  ['raw', 'raw'],
]);

// The per-upstream views sit at /upstreams/{name}/v3/; the name is not a label (it is client-chosen text here).
const FEED_ROOT = /^\/(?:upstreams\/[^/]+\/)?v3\/([^/]*)/;

/**
 * @example
 * resourceLabel('/v3/flatcontainer/a.b/index.json') // 'flatcontainer'
 * resourceLabel('/v3/whatever') // 'other'
 */
export function resourceLabel(path: string): ResourceLabel {
  const m = FEED_ROOT.exec(path);
  if (m) return FEED_SEGMENTS.get(m[1] ?? '') ?? 'other';
  // The NuGet client pushes to the V2 path even against a V3 feed.
  if (path === '/api/v2/package' || path.startsWith('/api/v2/package/')) return 'package';
  if (path === '/health') return 'health';
  if (path === '/metrics') return 'metrics';
  return 'other';
}

const RESOURCE_INDEX: ReadonlyMap<ResourceLabel, number> = new Map(RESOURCES.map((r, i) => [r, i]));

/** The position of a resource label in RESOURCES (metrics keep counts in arrays: ops/tally.ts). */
export function resourceIndex(resource: ResourceLabel): number {
  return RESOURCE_INDEX.get(resource) ?? RESOURCES.length - 1;
}

/** Codes nugate itself answers with, or that are worth telling apart; any other code is counted by its class. */
const STATUS_CODES = [200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 410, 413, 414, 415, 416, 422, 429, 431, 500, 501, 502, 503, 504] as const;
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Every value statusLabel can return. */
export const STATUS_LABELS: readonly string[] = [...STATUS_CODES.map(String), ...CLASSES, 'other'];
const STATUS_INDEX: ReadonlyMap<number, number> = new Map(STATUS_CODES.map((code, i) => [code, i]));

/** The position of statusLabel(status) in STATUS_LABELS, without building the label. */
export function statusIndex(status: number): number {
  const known = STATUS_INDEX.get(status);
  if (known !== undefined) return known;
  const cls = Math.floor(status / 100);
  return cls >= 1 && cls <= 5 ? STATUS_CODES.length + cls - 1 : STATUS_LABELS.length - 1;
}

/**
 * @example
 * statusLabel(404) // '404'
 * statusLabel(418) // '4xx'
 */
export function statusLabel(status: number): string {
  return STATUS_LABELS[statusIndex(status)] ?? 'other';
}

export const CACHE_STATES = ['HIT', 'MISS', 'STALE', 'REVALIDATED', '-'] as const;
export type CacheLabel = (typeof CACHE_STATES)[number];

/** The X-Cache state of a response, or '-' when it has none (or one this set does not know). */
export function cacheLabel(state: string | null | undefined): CacheLabel {
  return CACHE_STATES[cacheIndex(state)] ?? '-';
}

/** The position of cacheLabel(state) in CACHE_STATES. */
export function cacheIndex(state: string | null | undefined): number {
  switch (state) {
    case 'HIT':
      return 0;
    case 'MISS':
      return 1;
    case 'STALE':
      return 2;
    case 'REVALIDATED':
      return 3;
    default:
      return 4;
  }
}
