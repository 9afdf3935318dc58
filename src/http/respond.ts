/**
 * Writing responses. JSON goes out as bytes with a strong ETag (a content hash) and answers If-None-Match with
 * 304; packages go out through a raw pipe into the node response (deps.md: never Readable.toWeb a proxied body).
 */
import { hash } from 'node:crypto';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { blobBodyStream, closeBlobBody } from '../cache/blob-body.ts';
import { isErrno } from '../cache/fs-util.ts';
import type { BlobResult, CacheState } from '../cache/types.ts';

export type Env = { Bindings: HttpBindings };

/**
 * A strong ETag from the content: SHA-1 through crypto.hash (one call, no Hash object), which is all a validator
 * needs and costs a fraction of SHA-256 on the miss path.
 */
export function strongEtag(body: string | Uint8Array): string {
  return `"${hash('sha1', body, 'base64url')}"`;
}

/** RFC 9110 §13.1.2: If-None-Match matches on any listed entity tag (or "*"), weak comparison. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/** Bytes Hono accepts as a body (Buffer's type allows SharedArrayBuffer, which a response never holds). */
export type Bytes = Uint8Array<ArrayBuffer>;

export function asBytes(buf: Buffer): Bytes {
  return buf as Uint8Array as Bytes;
}

export interface Rendered {
  body: Bytes;
  etag: string;
  contentType: string;
  cacheControl: string;
  state: CacheState;
  warning?: string | undefined;
  /**
   * Clock time (ms) at which the oldest answer it was built from was fetched: Age is computed when it is sent.
   * Undefined for package files, which are immutable and carry no Age.
   */
  bornAt?: number;
}

export function renderJson(text: string, meta: { cacheControl: string; state: CacheState; warning?: string | undefined; bornAt: number }): Rendered {
  const body = asBytes(Buffer.from(text, 'utf8'));
  return { body, etag: strongEtag(body), contentType: 'application/json; charset=utf-8', ...meta };
}

/** The headers of a rendered response, as the slow path (sendRendered) and the fast hit path (fast-hit.ts) send them. */
export function renderedHeaders(r: Rendered, state: CacheState, now: number): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': r.contentType,
    etag: r.etag,
    'cache-control': r.cacheControl,
    'x-cache': state,
  };
  if (r.warning) headers['x-nuget-warning'] = headerSafe(r.warning);
  if (r.bornAt !== undefined) {
    const age = Math.floor((now - r.bornAt) / 1000);
    if (age > 0) headers.age = String(age);
  }
  return headers;
}

/** Header values must be Latin-1 single-line; upstream-provided reasons are squeezed into that. */
export function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

/**
 * The X-Cache state of a response built by `respond()`, so the access log can label its metrics without reading
 * `res.headers` (which would turn the plain header object into a Headers instance and cost the fast path below).
 */
export const X_CACHE_STATE = Symbol('nugate.x-cache');
export type TaggedResponse = Response & { [X_CACHE_STATE]?: string };

/**
 * A Response with a plain header object and a byte (or null) body. On @hono/node-server that is its lightweight
 * Response, written straight to the socket; `c.body(...)` with several headers would first copy them into a
 * WHATWG Headers object (validated, sorted) and then back into a plain object. No middleware sets headers
 * through `c.header()`, so the headers sent are the same.
 */
function respond(body: Bytes | null, status: number, headers: Record<string, string>, state: string): Response {
  const res: TaggedResponse = new Response(body, { status, headers });
  res[X_CACHE_STATE] = state;
  return res;
}

export function sendRendered(c: Context<Env>, r: Rendered, now: number, state: CacheState = r.state): Response {
  const headers = renderedHeaders(r, state, now);
  if (etagMatches(c.req.header('if-none-match'), r.etag)) return respond(null, 304, headers, state);
  return respond(r.body, 200, headers, state);
}

export const PACKAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/**
 * Sends a package-like blob: memory fast path, or a raw pipe from disk (an already-open file, so an eviction
 * meanwhile cannot empty the reply) or from a download in flight. A send that fails mid-way is logged.
 */
export function sendBlob(c: Context<Env>, blob: BlobResult, contentType: string, log?: { warn(obj: object, msg: string): void }): Response {
  const headers: Record<string, string> = {
    'content-type': contentType,
    'cache-control': PACKAGE_CACHE_CONTROL,
    'x-cache': blob.state,
  };
  if (blob.etag) headers.etag = blob.etag;
  if (blob.size !== undefined) headers['content-length'] = String(blob.size);
  if (blob.etag && etagMatches(c.req.header('if-none-match'), blob.etag)) {
    closeBody(blob);
    delete headers['content-length'];
    return respond(null, 304, headers, blob.state);
  }
  if (blob.body.kind === 'buffer') return respond(asBytes(blob.body.data), 200, headers, blob.state);
  const out = c.env.outgoing;
  const source: Readable = blobBodyStream(blob.body);
  out.writeHead(200, headers);
  if (c.req.method === 'HEAD') {
    source.destroy();
    out.end();
    return RESPONSE_ALREADY_SENT;
  }
  // If the source fails mid-way the socket is destroyed, so the client sees a truncated body, never a
  // complete-looking corrupt one.
  pipeline(source, out, (err) => {
    // A client that hangs up is not a failure; a source that breaks (disk, download) is.
    if (err && !isErrno(err, 'ERR_STREAM_PREMATURE_CLOSE')) {
      log?.warn({ err, state: blob.state, size: blob.size }, 'package send failed mid-way; the client got a truncated body');
    }
  });
  return RESPONSE_ALREADY_SENT;
}

function closeBody(blob: BlobResult): void {
  void closeBlobBody(blob.body);
}
