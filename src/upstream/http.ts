/**
 * The only place that builds undici dispatchers: one per upstream, so each has its own connection limit, CA
 * bundle and outbound proxy. Direct connections keep the DNS guard against link-local and metadata addresses;
 * through a proxy the proxy resolves names, so only literal addresses are checked (fetch.ts, before any hop).
 * The bounded fetch itself (fetchBuffer for JSON, fetchStream for package files) lives in fetch.ts.
 */
import { Agent, EnvHttpProxyAgent, Pool, ProxyAgent, type Dispatcher } from 'undici';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { readFile } from 'node:fs/promises';
import type { UpstreamConfig } from '../config/schema.ts';
import { guardedLookup } from './redirect-policy.ts';

export { fetchBuffer, fetchStream, type FetchRequest, type FetchedBuffer, type FetchedStream } from './fetch.ts';

/** Connections per origin when nothing else is configured (schema.ts `upstreams[].connections` explains 16). */
export const DEFAULT_CONNECTIONS = 16;

export interface DispatcherOptions {
  /** Connections per origin (a pool per origin: an upstream's service index and its CDN each get this many). */
  connections?: number;
  /** The resolver behind the address guard (tests map names onto addresses with it). Default: dns.lookup. */
  lookup?: LookupFunction;
  /** Explicit outbound proxy (may carry user:password); overrides the environment's proxies. */
  proxy?: string;
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY (lowercase wins, as curl and undici read them). Default: none. */
  env?: NodeJS.ProcessEnv;
  /**
   * CA certificates (PEM) to trust in place of Node's defaults: pass what `trustedCa` returns, which keeps the
   * bundled roots and NODE_EXTRA_CA_CERTS. Undefined: Node's default store (NODE_EXTRA_CA_CERTS included).
   */
  ca?: string[];
  /** Offer HTTP/2 by ALPN (default true): one multiplexed connection instead of several when the upstream agrees. */
  allowH2?: boolean;
  /** Told about every connection opened and closed (metrics). */
  onConnection?: (event: 'open' | 'close') => void;
}

/** The proxy an environment names for a scheme, or undefined; an empty value means none. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export interface ProxyRoute {
  kind: 'direct' | 'proxy';
  /** The proxy's origin without credentials, for operators (doctor); never sent to clients. */
  via?: string;
}

/** Where a request to `url` goes under these options (the rule EnvHttpProxyAgent applies, for doctor's report). */
export function routeOf(url: string, opts: Pick<DispatcherOptions, 'proxy' | 'env'>): ProxyRoute {
  const target = new URL(url);
  const proxy = opts.proxy ?? envProxyFor(target, opts.env ?? {});
  return proxy === undefined ? { kind: 'direct' } : { kind: 'proxy', via: withoutCredentials(proxy) };
}

function envProxyFor(target: URL, env: NodeJS.ProcessEnv): string | undefined {
  const proxy = target.protocol === 'https:' ? (envValue(env, 'https_proxy') ?? envValue(env, 'http_proxy')) : envValue(env, 'http_proxy');
  if (proxy === undefined) return undefined;
  const noProxy = envValue(env, 'no_proxy');
  if (noProxy === undefined) return proxy;
  if (noProxy === '*') return undefined;
  const host = target.hostname.toLowerCase();
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  for (const raw of noProxy.split(/[,\s]/)) {
    if (!raw) continue;
    const m = /^(.+):(\d+)$/.exec(raw);
    const entry = (m ? (m[1] ?? '') : raw).replace(/^\*?\./, '').toLowerCase();
    if (m && Number(m[2]) !== port) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return undefined;
  }
  return proxy;
}

/** A proxy URL fit for a log line or a report: scheme, host and port only. */
export function withoutCredentials(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid proxy URL)';
  }
}

/**
 * The CA list for an upstream with its own bundle. Giving undici any `ca` replaces Node's default store, so the
 * bundled roots and NODE_EXTRA_CA_CERTS (which Node applies only to its default store) are added back here.
 */
export async function trustedCa(caFile: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const out = [...rootCertificates];
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    // Node itself only warns when this file is unreadable; so do we (by leaving it out), the upstream's own CA still applies.
    const text = await readFile(extra, 'utf8').catch(() => undefined);
    if (text !== undefined) out.push(text);
  }
  out.push(await readFile(caFile, 'utf8'));
  return out;
}

/**
 * @example
 * const d = createDispatcher({ connections: 16, env: process.env, onConnection: (e) => metrics.connection(name, e) });
 */
export function createDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  const allowH2 = opts.allowH2 ?? true;
  const tls = opts.ca === undefined ? {} : { ca: opts.ca };
  const onConnection = opts.onConnection;
  const base = {
    connections: opts.connections ?? DEFAULT_CONNECTIONS,
    keepAliveTimeout: 30_000,
    // Backstops only: every request sets its own from the upstream's timeout and idleTimeout.
    headersTimeout: 30_000,
    bodyTimeout: 60_000,
    allowH2,
    // One pool per origin, watched so /metrics can tell connections opened from requests that reused one.
    ...(onConnection === undefined
      ? {}
      : {
          factory(origin: string | URL, poolOpts: object): Dispatcher {
            const pool = new Pool(origin, poolOpts);
            pool.on('connect', () => onConnection('open'));
            pool.on('disconnect', () => onConnection('close'));
            return pool;
          },
        }),
  };
  // Through a proxy the tunnelled TLS to the upstream is built from requestTls: the CA and ALPN go there.
  const requestTls = { ...tls, allowH2, timeout: 10_000 };
  if (opts.proxy !== undefined) return new ProxyAgent({ ...base, uri: opts.proxy, requestTls, proxyTls: { ...tls, timeout: 10_000 } });
  const direct = { ...base, connect: { ...tls, timeout: 10_000, lookup: guardedLookup(opts.lookup) } };
  const env = opts.env ?? {};
  const httpProxy = envValue(env, 'http_proxy');
  const httpsProxy = envValue(env, 'https_proxy');
  if (httpProxy === undefined && httpsProxy === undefined) return new Agent(direct);
  // Empty strings, not undefined: undefined would make undici read process.env behind the caller's back.
  return new EnvHttpProxyAgent({ ...direct, httpProxy: httpProxy ?? '', httpsProxy: httpsProxy ?? httpProxy ?? '', noProxy: envValue(env, 'no_proxy') ?? '', requestTls, proxyTls: { ...tls, timeout: 10_000 } });
}

/**
 * The dispatcher for one configured upstream: its proxy (or the environment's), its CA bundle, its limit.
 *
 * @example
 * const dispatcher = await upstreamDispatcher(config.upstreams[0], process.env);
 */
export async function upstreamDispatcher(u: Pick<UpstreamConfig, 'proxy' | 'ca' | 'connections'>, env: NodeJS.ProcessEnv, extra: Pick<DispatcherOptions, 'onConnection' | 'lookup'> = {}): Promise<Dispatcher> {
  const opts: DispatcherOptions = { connections: u.connections, env, ...extra };
  if (u.proxy !== undefined) opts.proxy = u.proxy;
  if (u.ca !== undefined) opts.ca = await trustedCa(u.ca, env);
  return createDispatcher(opts);
}
