/**
 * Small pieces of talking to an upstream over HTTP: request headers, reading JSON, validators, Retry-After, the zip
 * check on package bodies, file names in a flat container, and the search query for a window of results.
 */
import type { Readable } from 'node:stream';
import type { BlobFile } from '../../cache/types.ts';
import type { SearchParams } from '../../merge/search.ts';
import { UpstreamError } from '../../errors.ts';
import type { AnswerMeta } from '../source.ts';

export const JSON_HEADERS = { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' } as const;

export function fileName(id: string, version: string, file: BlobFile): string {
  if (file === 'nupkg') return `${id}.${version}.nupkg`;
  if (file === 'nuspec') return `${id}.nuspec`;
  return file;
}

export function parseJson(upstream: string, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    // A 200 with an HTML login page or a truncated document must not be cached (protocol.md §2.2).
    throw new UpstreamError(upstream, 'sent a document that is not valid JSON', { cause: err, reason: 'invalid-body' });
  }
}

/** Retry-After of an upstream 429, when it is a plain number of seconds or an HTTP date. */
export function retryAfterOf(headers: Record<string, string>, now: number): string | undefined {
  const raw = headers['retry-after']?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (/^\d+$/.test(raw)) return String(Math.min(Number(raw), 3600));
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : String(Math.max(0, Math.min(3600, Math.ceil((at - now) / 1000))));
}

export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

/**
 * Reads just enough of a stream to compare its first bytes with `magic`, then puts them back (unshift), so the
 * stream is consumed from its start afterwards. A stream that ends or fails first does not match.
 */
export function startsWith(stream: Readable, magic: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (result: boolean): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      stream.pause();
      if (chunks.length > 0 && result) stream.unshift(Buffer.concat(chunks, length));
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= magic.length) finish(Buffer.concat(chunks, length).subarray(0, magic.length).equals(magic));
    };
    const onEnd = (): void => finish(false);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onEnd);
  });
}

export function validatorsOf(headers: Record<string, string>): { etag?: string; lastModified?: string } {
  const v: { etag?: string; lastModified?: string } = {};
  if (headers.etag) v.etag = headers.etag;
  if (headers['last-modified']) v.lastModified = headers['last-modified'];
  return v;
}

export function heldMeta(): AnswerMeta {
  return { state: 'HIT', ageMs: 0, freshMs: 0 };
}

export function localMeta(reason: string | undefined): AnswerMeta {
  // Answers from what is held are cheap and change as packages arrive: never reused as rendered responses.
  return reason === undefined ? { state: 'HIT', ageMs: 0, freshMs: 0 } : { state: 'STALE', ageMs: 0, freshMs: 0, staleReason: reason };
}

/** The query sent to an upstream search service for exactly this window of results. */
export function searchQuery(params: SearchParams, extra: Record<string, string>): URLSearchParams {
  const q = new URLSearchParams();
  q.set('q', params.q);
  q.set('skip', String(params.skip));
  q.set('take', String(params.take));
  q.set('prerelease', String(params.prerelease));
  if (params.semVerLevel !== undefined) q.set('semVerLevel', params.semVerLevel);
  if (params.packageType !== undefined) {
    // NuGet.Protocol sent packageTypeFilter until 2026 and packageType after it: upstreams may know either.
    q.set('packageType', params.packageType);
    q.set('packageTypeFilter', params.packageType);
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return q;
}
