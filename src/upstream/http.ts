/**
 * The only place that talks to undici. One Agent (a Pool per origin) with explicit limits; manual redirects so
 * that credentials never follow a hop to another origin and a non-http(s) Location is refused; transport
 * failures become UpstreamError with the cause kept.
 */
import { Agent, type Dispatcher } from 'undici';
import { createGunzip, createInflate, createBrotliDecompress, gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import type { Readable } from 'node:stream';
import { UpstreamError } from '../errors.ts';

export function createDispatcher(): Dispatcher {
  return new Agent({
    connections: 64,
    keepAliveTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 60_000,
    connect: { timeout: 10_000 },
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

const MAX_REDIRECTS = 5;

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Maps a transport failure to an UpstreamError, keeping the cause (style.md rule 5). */
export function toUpstreamError(upstream: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const message = (err as Error | undefined)?.message ?? String(err);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || (err as Error)?.name === 'TimeoutError') {
    return new UpstreamError(upstream, `timed out (${code || 'timeout'})`, { cause: err, status: 504 });
  }
  return new UpstreamError(upstream, `request failed: ${code ? `${code} ` : ''}${message}`, { cause: err });
}

/**
 * Sends one request and follows redirects by hand. Throws UpstreamError on transport failure; any HTTP status is
 * returned (callers decide what a 404 or 5xx means).
 */
export async function upstreamRequest(dispatcher: Dispatcher, req: UpstreamRequest): Promise<UpstreamResponse> {
  // The budget covers connect + headers; a big package body then runs under undici's per-read bodyTimeout,
  // like the NuGet client's own 100 s header / 60 s per-read split (protocol.md §2.2).
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(Object.assign(new Error(`no response within ${req.timeout} ms`), { name: 'TimeoutError' })), req.timeout);
  const signal = req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal;
  try {
    return await follow(dispatcher, req, signal);
  } finally {
    clearTimeout(timer);
  }
}

async function follow(dispatcher: Dispatcher, req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  let url = req.url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const target = new URL(url);
    const headers: Record<string, string> = { 'user-agent': 'nugate/0.1 (+NuGet V3 proxy)', ...req.headers };
    if (req.credentials && (req.credentialOrigins ?? []).includes(target.origin)) Object.assign(headers, req.credentials);
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({ origin: target.origin, path: target.pathname + target.search, method: req.method ?? 'GET', headers, signal });
    } catch (err) {
      throw toUpstreamError(req.upstream, err);
    }
    const resHeaders = flattenHeaders(res.headers);
    if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304 && resHeaders.location) {
      res.body.resume();
      const next = new URL(resHeaders.location, url);
      // .NET never follows to another scheme family either; a signed blob URL is followed verbatim (no auth).
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new UpstreamError(req.upstream, `refused redirect to ${next.protocol} URL`);
      }
      url = next.href;
      continue;
    }
    return { status: res.statusCode, headers: resHeaders, body: res.body, url };
  }
  throw new UpstreamError(req.upstream, `too many redirects (> ${MAX_REDIRECTS})`);
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

/** Reads a whole (small) body with a cap and decodes it. Used for JSON only, never for packages. */
export async function readBody(upstream: string, res: UpstreamResponse, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      total += b.length;
      if (total > maxBytes) {
        res.body.destroy();
        throw new UpstreamError(upstream, `response larger than ${maxBytes} bytes`);
      }
      chunks.push(b);
    }
  } catch (err) {
    throw toUpstreamError(upstream, err);
  }
  const raw = Buffer.concat(chunks, total);
  const declared = res.headers['content-length'];
  if (declared !== undefined && Number(declared) !== raw.length) {
    throw new UpstreamError(upstream, `truncated body (${raw.length} of ${declared} bytes)`);
  }
  const enc = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  try {
    if (enc === '' || enc === 'identity') return raw;
    if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(raw);
    if (enc === 'deflate') return inflateSync(raw);
    if (enc === 'br') return brotliDecompressSync(raw);
  } catch (err) {
    throw new UpstreamError(upstream, `invalid ${enc} body`, { cause: err });
  }
  throw new UpstreamError(upstream, `unsupported content-encoding "${enc}"`);
}

/** Drains and discards a body we do not need, so the connection can be reused. */
export function discard(res: UpstreamResponse): void {
  res.body.resume();
  res.body.on('error', () => {});
}
