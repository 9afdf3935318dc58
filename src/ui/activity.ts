/**
 * What the home page shows about traffic: a bounded ring of the latest requests and, since start, how many
 * package and metadata answers came from the cache. Fed by the access log (src/ops/access-log.ts) with the same
 * fixed fields it logs, so nothing here can hold a header, a query string or a credential.
 */
import type { RequestLogFields } from '../ops/access-log.ts';

export interface ActivityEntry {
  /** Epoch ms when the answer was sent. */
  at: number;
  method: string;
  path: string;
  status: number;
  cache: string;
  ms: number;
}

export interface CacheCounts {
  hit: number;
  stale: number;
  revalidated: number;
  miss: number;
}

export interface Activity {
  record(fields: RequestLogFields): void;
  /** Newest first. */
  recent(): ActivityEntry[];
  counts(): CacheCounts;
}

/** Pages, probes and scrapes say nothing about the feed's traffic: they are left out of the ring and the ratio. */
const OWN_PATHS = /^\/(?:$|ui(?:\/|$)|health$|ready$|metrics$|favicon\.ico$)/;
// Paths are client text; the page needs only enough of one to recognise it.
const MAX_PATH = 200;

/**
 * @example
 * const activity = createActivity(100, () => Date.now());
 * activity.record({ method: 'GET', path: '/v3/index.json', status: 200, cache: 'HIT', ms: 1 });
 */
export function createActivity(size: number, now: () => number): Activity {
  if (!Number.isInteger(size) || size < 1) throw new Error(`createActivity: expected size to be a positive integer, got ${size}`);
  const ring: Array<ActivityEntry | undefined> = new Array<ActivityEntry | undefined>(size);
  let next = 0;
  const counts: CacheCounts = { hit: 0, stale: 0, revalidated: 0, miss: 0 };
  return {
    record(f) {
      if (OWN_PATHS.test(f.path)) return;
      ring[next] = { at: now(), method: f.method, path: f.path.slice(0, MAX_PATH), status: f.status, cache: f.cache, ms: f.ms };
      next = (next + 1) % size;
      if (f.cache === 'HIT') counts.hit++;
      else if (f.cache === 'STALE') counts.stale++;
      else if (f.cache === 'REVALIDATED') counts.revalidated++;
      else if (f.cache === 'MISS') counts.miss++;
    },
    recent() {
      const out: ActivityEntry[] = [];
      for (let i = 1; i <= size; i++) {
        const e = ring[(next - i + size) % size];
        if (e === undefined) break;
        out.push(e);
      }
      return out;
    },
    counts: () => ({ ...counts }),
  };
}

/**
 * Share of answers made from held bytes (HIT, STALE, and REVALIDATED: the upstream only confirmed the copy), or
 * undefined before the first one.
 */
export function hitRatio(c: CacheCounts): number | undefined {
  const total = c.hit + c.stale + c.revalidated + c.miss;
  return total === 0 ? undefined : (c.hit + c.stale + c.revalidated) / total;
}
