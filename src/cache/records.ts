/**
 * Shapes the cache persists in the metadata tier and keeps in the hot tier, with the guards that check them
 * on the way back in (a shared Redis or a torn file may hold anything).
 */
import type { BlobKey, DocKind, StoredDoc } from './types.ts';
import { isBlobFile } from './keys.ts';

/** A document as persisted: the StoredDoc plus the kind it was stored under (stats, prune). */
export interface DocRecord {
  kind: DocKind;
  doc: StoredDoc;
}

/** The index entry of a complete, verified blob. Its path is derived from `key`, never stored. */
export interface BlobEntry {
  key: BlobKey;
  size: number;
  /** SHA-512 of the content, base64 (the form of NuGet's packageHash). */
  sha512: string;
  /** Strong ETag, quoted. */
  etag: string;
  contentType: string;
  storedAt: number;
  /** Last time it was served (clock ms); written at most once a minute, for LRU eviction by size. */
  lastAccess: number;
}

/** Running totals of the blob tier, persisted so start-up needs no scan; re-counted by every full walk. */
export interface BlobTotals {
  bytes: number;
  count: number;
}

export type HotValue =
  | { type: 'doc'; record: DocRecord }
  | { type: 'blob'; data: Buffer; entry: BlobEntry };

const DOC_KINDS: readonly DocKind[] = ['metadata', 'search', 'serviceIndex', 'immutable'];

/** The one object guard of the cache layer (records read back from a store may be anything). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isStringRecord(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((x) => x === undefined || typeof x === 'string');
}

export function isStoredDoc(v: unknown): v is StoredDoc {
  return (
    isObject(v) &&
    (v.status === 200 || v.status === 404) &&
    typeof v.body === 'string' &&
    isStringRecord(v.validators) &&
    typeof v.storedAt === 'number' &&
    typeof v.upstream === 'string'
  );
}

export function isDocRecord(v: unknown): v is DocRecord {
  return isObject(v) && typeof v.kind === 'string' && (DOC_KINDS as readonly string[]).includes(v.kind) && isStoredDoc(v.doc);
}

function isBlobKey(v: unknown): v is BlobKey {
  return (
    isObject(v) &&
    typeof v.upstream === 'string' &&
    typeof v.id === 'string' &&
    typeof v.version === 'string' &&
    typeof v.file === 'string' &&
    isBlobFile(v.file)
  );
}

export function isBlobEntry(v: unknown): v is BlobEntry {
  return (
    isObject(v) &&
    isBlobKey(v.key) &&
    typeof v.size === 'number' &&
    typeof v.sha512 === 'string' &&
    typeof v.etag === 'string' &&
    typeof v.contentType === 'string' &&
    typeof v.storedAt === 'number' &&
    typeof v.lastAccess === 'number'
  );
}

export function isBlobTotals(v: unknown): v is BlobTotals {
  return isObject(v) && typeof v.bytes === 'number' && typeof v.count === 'number';
}
