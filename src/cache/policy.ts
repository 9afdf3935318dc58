/**
 * Freshness policy (design.md §3 table): how long a document counts as fresh, per kind, with per-upstream
 * overrides and a separate TTL for cached 404s. Pure: the caller passes the clock's now.
 */
import type { Config } from '../config/schema.ts';
import type { DocKind, StoredDoc } from './types.ts';

type Ttls = Config['cache']['ttl'];

export interface Policy {
  /** Milliseconds a stored copy stays fresh; Infinity for immutable documents. */
  ttl(kind: DocKind, upstream: string, status: StoredDoc['status']): number;
}

export function createPolicy(config: Pick<Config, 'cache' | 'upstreams'>): Policy {
  const base: Ttls = config.cache.ttl;
  const byUpstream = new Map<string, Ttls>();
  for (const u of config.upstreams) {
    // Upstream names are unique case-insensitively (config schema), so a lowercase lookup is unambiguous.
    byUpstream.set(u.name.toLowerCase(), { ...base, ...stripUndefined(u.ttl ?? {}) });
  }
  return {
    ttl(kind, upstream, status) {
      const ttls = byUpstream.get(upstream.toLowerCase()) ?? base;
      // A 404 may turn into a package at any moment (a push), whatever the document's kind.
      if (status === 404) return ttls.notFound;
      if (kind === 'immutable') return Number.POSITIVE_INFINITY;
      return ttls[kind];
    },
  };
}

function stripUndefined(o: Partial<Ttls>): Partial<Ttls> {
  const out: Partial<Ttls> = {};
  for (const k of ['metadata', 'search', 'notFound', 'serviceIndex'] as const) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
