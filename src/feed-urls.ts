/**
 * nugate's URL model (design.md §2). Cached documents are stored "canonical": every URL that points into a feed
 * is written against FEED_SENTINEL, and swapped for the real public feed base when a response is rendered. The
 * same cached upstream document can so serve the merged feed (/v3/), a per-upstream view
 * (/upstreams/{name}/v3/) and any public host name, without re-parsing JSON on the hot path.
 */

/** A base that cannot collide with real data: the .invalid TLD is reserved (RFC 2606). */
export const FEED_SENTINEL = 'https://feed.nugate.invalid/';

/** Replaces the sentinel with the public feed base (which ends with '/'). */
export function materialize(canonical: string, feedBase: string): string {
  return canonical.includes(FEED_SENTINEL) ? canonical.replaceAll(FEED_SENTINEL, feedBase) : canonical;
}
