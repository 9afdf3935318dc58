/**
 * What this nugate has stored, as packages, for offline search (src/merge/local-search.ts). Registrations give
 * full metadata; ids known only from a flat-container index (what a restore caches) still appear, with their
 * versions. Rebuilt at most every 30 s: offline, the cache only changes when an operator copies one in.
 */
import type { Services, Feed } from '../services.ts';
import type { LocalPackage, LocalVersion } from '../merge/local-search.ts';
import { pagesOfIndex } from '../merge/registration.ts';

const REBUILD_MS = 30_000;
const built = new WeakMap<Feed, { at: number; packages: Promise<LocalPackage[]> }>();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function splitKey(key: string): { upstream: string; id: string } | undefined {
  const parts = key.split(':');
  return parts.length === 3 && parts[1] && parts[2] ? { upstream: parts[1], id: parts[2] } : undefined;
}

async function gather(s: Services, feed: Feed): Promise<LocalPackage[]> {
  const names = new Set(feed.upstreams.map((u) => u.name));
  const byKey = new Map<string, LocalPackage>();
  for await (const [key, doc] of s.docs.entries('reg:')) {
    const k = splitKey(key);
    if (!k || !names.has(k.upstream) || doc.status !== 200) continue;
    const versions: LocalVersion[] = [];
    let displayId = k.id;
    for (const page of pagesOfIndex(JSON.parse(doc.body))) {
      for (const item of page.items ?? []) {
        const entry = isObject(item) && isObject(item.catalogEntry) ? item.catalogEntry : undefined;
        if (!entry || typeof entry.version !== 'string') continue;
        if (typeof entry.id === 'string') displayId = entry.id;
        versions.push({ version: entry.version, listed: entry.listed !== false, entry });
      }
    }
    byKey.set(`${k.upstream}:${k.id}`, { id: k.id, displayId, upstream: k.upstream, versions });
  }
  for await (const [key, doc] of s.docs.entries('flat:')) {
    const k = splitKey(key);
    if (!k || !names.has(k.upstream) || doc.status !== 200 || byKey.has(`${k.upstream}:${k.id}`)) continue;
    const list = (JSON.parse(doc.body) as { versions?: unknown }).versions;
    const versions = Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string').map((version) => ({ version, listed: true })) : [];
    byKey.set(`${k.upstream}:${k.id}`, { id: k.id, displayId: k.id, upstream: k.upstream, versions });
  }
  // Priority order, so the first package seen for an id is the one the merged feed would serve.
  const order = new Map(feed.upstreams.map((u, i) => [u.name, i]));
  return [...byKey.values()].sort((a, b) => (order.get(a.upstream) ?? 0) - (order.get(b.upstream) ?? 0));
}

export function cachedPackages(s: Services, feed: Feed): Promise<LocalPackage[]> {
  const now = s.clock.now();
  const hit = built.get(feed);
  if (hit && now - hit.at < REBUILD_MS) return hit.packages;
  const packages = gather(s, feed);
  built.set(feed, { at: now, packages });
  packages.catch(() => built.delete(feed));
  return packages;
}
