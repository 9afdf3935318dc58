/**
 * Cleaning texts an upstream wrote before they reach a client or a log: an upstream error text may echo the
 * key it was sent, and may name its own URL, host or address, which nugate never shows (issue 8: upstreams are
 * named by their configured name only).
 */

/** Replaces every occurrence of each secret (shorter ones could match ordinary words, so they are skipped). */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (s !== undefined && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

// Absolute URLs of any scheme a feed might print, up to the first character that cannot be part of one.
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()\]]+/gi;
// An IPv4 literal only with a port: a bare a.b.c.d is also a four-part NuGet version, which a 409 text names.
// The upstream's own hosts (IP literals included) are passed in and removed with or without a port.
const IPV4_PATTERN = /\b(?:\d{1,3}\.){3}\d{1,3}:\d{1,5}\b/g;
// Bracketed IPv6 literals, as they appear in URLs and socket errors.
const IPV6_PATTERN = /\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d{1,5})?/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Removes URLs, IP addresses with a port, bracketed IPv6 addresses and the given host names (case-insensitive, with any port) from `text`, naming
 * the upstream instead.
 *
 * @example
 * withoutAddresses('see https://feed.corp/x on feed.corp:8443', 'internal', ['feed.corp'])
 * // 'see [upstream "internal"] on [upstream "internal"]'
 */
export function withoutAddresses(text: string, upstream: string, hosts: readonly string[]): string {
  const named = `[upstream "${upstream}"]`;
  let out = text.replace(URL_PATTERN, named).replace(IPV6_PATTERN, named).replace(IPV4_PATTERN, named);
  for (const host of hosts) {
    if (host === '') continue;
    out = out.replace(new RegExp(`(?<![a-z0-9.-])${escapeRegExp(host)}(?::\\d{1,5})?(?![a-z0-9-])`, 'gi'), named);
  }
  return out;
}
