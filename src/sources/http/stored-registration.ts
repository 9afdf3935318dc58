/**
 * How an HTTP source stores a registration: canonical leaves, plus per version where the package really is and the
 * hash the upstream gave for it. Never sent as such: resources rebuild and repage registrations from the leaves.
 */
import type { Json, Leaf } from '../../merge/registration.ts';
import { rewriteJsonInPlace, type RewriteTable } from '../../nuget/rewrite.ts';
import { isJsonObject } from '../../nuget/json.ts';
import { FEED_SENTINEL } from '../../feed-urls.ts';

/** What a registration is stored as: canonical leaves plus, per version, where the package really is. */
export interface StoredRegistration {
  leaves: Array<{ version: string; item: Json }>;
  /** Upstream packageContent URL per version (never sent: used to download from feeds without a flat container). */
  content: Record<string, string>;
  /** packageHash (SHA-512, base64) per version, when the upstream gives one. */
  hashes: Record<string, string>;
}

/**
 * The stored form of an upstream's leaves: each leaf rewritten to canonical URLs (in place: the caller just parsed
 * them), its upstream packageContent and packageHash (SHA-512 only) kept aside.
 */
export function toStoredRegistration(leaves: Leaf[], id: string, table: RewriteTable): StoredRegistration {
  const stored: StoredRegistration = { leaves: [], content: {}, hashes: {} };
  for (const leaf of leaves) {
    const content = leaf.item.packageContent;
    if (typeof content === 'string') stored.content[leaf.version] = content;
    const entry = isJsonObject(leaf.item.catalogEntry) ? leaf.item.catalogEntry : undefined;
    const hash = entry?.packageHash;
    const algorithm = entry?.packageHashAlgorithm;
    if (typeof hash === 'string' && (algorithm === undefined || (typeof algorithm === 'string' && algorithm.toUpperCase() === 'SHA512'))) stored.hashes[leaf.version] = hash;
    const item = rewriteJsonInPlace(leaf.item, table);
    // Downloads always go through nugate's flat container, whatever the upstream's layout (no leak, and feeds
    // without PackageBaseAddress still restore).
    item.packageContent = `${FEED_SENTINEL}flatcontainer/${id}/${leaf.version}/${id}.${leaf.version}.nupkg`;
    stored.leaves.push({ version: leaf.version, item });
  }
  return stored;
}
