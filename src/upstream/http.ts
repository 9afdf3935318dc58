/**
 * The only place that talks to undici. One Agent (a Pool per origin) with explicit limits and a DNS guard against
 * link-local and metadata addresses; the bounded fetch itself (fetchBuffer for JSON, fetchStream for package files)
 * lives in fetch.ts.
 */
import { Agent, type Dispatcher } from 'undici';
import type { LookupFunction } from 'node:net';
import { guardedLookup } from './redirect-policy.ts';

export { fetchBuffer, fetchStream, type FetchRequest, type FetchedBuffer, type FetchedStream } from './fetch.ts';

export interface DispatcherOptions {
  /** Connections per origin (default 16: enough for parallel restores, polite to a shared feed). */
  connections?: number;
  /** The resolver behind the address guard (tests map names onto addresses with it). Default: dns.lookup. */
  lookup?: LookupFunction;
}

export function createDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  return new Agent({
    connections: opts.connections ?? 16,
    keepAliveTimeout: 30_000,
    // Backstops only: every request sets its own from the upstream's timeout and idleTimeout.
    headersTimeout: 30_000,
    bodyTimeout: 60_000,
    connect: { timeout: 10_000, lookup: guardedLookup(opts.lookup) },
  });
}
