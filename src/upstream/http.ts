/**
 * The only place that talks to undici. One Agent (a Pool per origin) with explicit limits and a DNS guard against
 * link-local and metadata addresses; the bounded fetch itself lives in fetch.ts. The older `upstreamRequest` /
 * `readBody` pair stays until every caller uses fetchBuffer/fetchStream; it shares the redirect policy, the
 * credential rule and the streamed, decoded-bytes cap.
 */
import { Agent, type Dispatcher } from 'undici';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate, createBrotliDecompress } from 'node:zlib';
import { UpstreamError } from '../errors.ts';
import { guardedLookup } from './redirect-policy.ts';
import { Exchange, boundedBody, collect, openFollowing } from './fetch.ts';

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

export interface UpstreamRequest {
  upstream: string;
  url: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Added only while the request stays on one of `credentialOrigins`. */
  credentials?: Record<string, string>;
  credentialOrigins?: string[];
  /** Total budget for headers (ms). The body has its own per-read idle timeout. */
  timeout: number;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: Readable;
  /** The URL that finally answered (after redirects). */
  url: string;
}

/** Old callers' per-read body timeout (undici's bodyTimeout before the bounded fetch). */
const LEGACY_BODY_TIMEOUT = 60_000;

/** Maps a transport failure to an UpstreamError naming only the upstream and an error code (style.md rule 5). */
export function toUpstreamError(upstream: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  return new Exchange({ upstream }).classify(err, 'connect');
}

/**
 * Sends one request and follows redirects under the policy (redirect-policy.ts). Throws UpstreamError on transport
 * failure; any HTTP status is returned with its raw (still encoded) body. Prefer fetchBuffer / fetchStream.
 */
export async function upstreamRequest(dispatcher: Dispatcher, req: UpstreamRequest): Promise<UpstreamResponse> {
  const x = new Exchange(req);
  x.startDeadline(req.timeout);
  try {
    const opened = await openFollowing(dispatcher, req, x, { headersTimeout: req.timeout, bodyTimeout: LEGACY_BODY_TIMEOUT });
    return { status: opened.status, headers: opened.headers, body: opened.body, url: opened.url };
  } finally {
    x.stopDeadline();
  }
}

/** Removes any Content-Encoding from a stream (nuget.org sends gzip on its gz hives whatever we ask). */
export function decodedStream(body: Readable, encoding: string | undefined): Readable {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc === 'gzip' || enc === 'x-gzip') return body.pipe(createGunzip());
  if (enc === 'deflate') return body.pipe(createInflate());
  if (enc === 'br') return body.pipe(createBrotliDecompress());
  body.destroy();
  throw new Error(`unsupported content-encoding "${encoding}"`);
}

/**
 * Reads a whole (small) body, decoding it as a stream with the cap on decoded bytes. Used for JSON only, never for
 * packages. Prefer fetchBuffer, which also bounds the body in time.
 */
export async function readBody(upstream: string, res: UpstreamResponse, maxBytes: number): Promise<Buffer> {
  const x = new Exchange({ upstream });
  const bounded = boundedBody({ ...res, method: 'GET' }, x, { maxBytes, idleTimeout: LEGACY_BODY_TIMEOUT, bombGuard: false });
  return collect(bounded.body);
}

/** Drains and discards a body we do not need, so the connection can be reused. */
export function discard(res: UpstreamResponse): void {
  res.body.resume();
  res.body.on('error', () => {});
}
