/**
 * Where an upstream request may go: which redirects nugate follows, and which addresses it never connects to.
 * Pure functions plus one DNS guard for the dispatcher, so a host name that resolves to a metadata address is
 * refused as surely as the IP literal.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';

/** Hops a request may take after the first answer (NuGet.Client and browsers stop at a similar count). */
export const MAX_REDIRECTS = 5;

/**
 * Link-local ranges and the cloud instance-metadata endpoints: credentials and instance secrets live there, and
 * no NuGet feed does. Loopback and private ranges stay reachable (internal feeds and tests live there).
 */
const forbidden = new BlockList();
forbidden.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, AWS/Azure/GCP/OCI metadata (RFC 3927)
forbidden.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
forbidden.addSubnet('fe80::', 10, 'ipv6'); // link-local (RFC 4291 §2.5.6)
forbidden.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
forbidden.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6'); // 169.254.0.0/16 through NAT64 (RFC 6052)
// BlockList matches IPv4-mapped IPv6 (::ffff:169.254.169.254) against the IPv4 rules by itself.

const FORBIDDEN_NAMES = new Set(['metadata.google.internal']);

/** Set on the error a refused DNS answer produces, so the fetch can tell it from an ordinary connect failure. */
export const FORBIDDEN_ADDRESS_CODE = 'ENUGATE_FORBIDDEN_ADDRESS';

/** True for an IP address nugate must never connect to. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return forbidden.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

// Every upstream request asks about its host, and BlockList.check parses the address anew each time (~8 µs, a
// measurable part of a search miss): the few hosts nugate talks to are remembered, within a bound.
const MAX_REMEMBERED_HOSTS = 256;
const verdicts = new Map<string, boolean>();

/** True for a URL host name (as `URL.hostname` gives it: IPv6 in brackets) that is refused before any DNS. */
export function isForbiddenHost(hostname: string): boolean {
  const known = verdicts.get(hostname);
  if (known !== undefined) return known;
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const verdict = FORBIDDEN_NAMES.has(host) || isForbiddenAddress(host);
  if (verdicts.size >= MAX_REMEMBERED_HOSTS) verdicts.clear();
  verdicts.set(hostname, verdict);
  return verdict;
}

/**
 * Why a redirect from `from` to `to` is refused, or undefined when it may be followed. The text names the kind of
 * refusal only, never the URL (it ends up in messages sent to clients).
 *
 * `allowedOrigins` undefined: any origin the other rules allow. Given: only those origins, plus `home` (the origin
 * the request was first sent to; a redirect that stays there never leaves the upstream).
 */
export function redirectRefusal(from: URL, to: URL, allowedOrigins?: readonly string[], home?: string): string | undefined {
  if (to.protocol !== 'http:' && to.protocol !== 'https:') return 'redirect to a non-http(s) scheme refused';
  // A downgrade would send the request (and anything it carries) in clear text.
  if (from.protocol === 'https:' && to.protocol === 'http:') return 'redirect from https to http refused';
  if (isForbiddenHost(to.hostname)) return 'redirect to a link-local or metadata address refused';
  if (allowedOrigins !== undefined && to.origin !== home && !allowedOrigins.includes(to.origin)) {
    return 'redirect to an origin outside the allowed ones refused';
  }
  return undefined;
}

/**
 * A `lookup` for the dispatcher's `connect` options: resolves as usual, then refuses the connection when any
 * address of the answer is forbidden (net.connect skips lookup for IP literals; those are checked per hop).
 * `resolve` is injectable so tests can map a name onto a metadata address without a DNS server.
 */
export function guardedLookup(resolve: LookupFunction = (host, options, callback) => dnsLookup(host, options, callback)): LookupFunction {
  return function nugateLookup(hostname, options, callback) {
    if (isForbiddenHost(hostname)) {
      callback(forbiddenAddressError(), '', 0);
      return;
    }
    resolve(hostname, options, (err, address, family) => {
      if (err) {
        callback(err, address, family);
        return;
      }
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      if (addresses.some(isForbiddenAddress)) {
        callback(forbiddenAddressError(), '', 0);
        return;
      }
      callback(null, address, family);
    });
  };
}

function forbiddenAddressError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('refused to connect to a link-local or metadata address');
  err.code = FORBIDDEN_ADDRESS_CODE;
  return err;
}
