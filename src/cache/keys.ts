/**
 * Blob keys → storage keys and relative paths. A blob lives at `<id>/<version>/<upstream>/<file>` under the
 * blob root, so evicting an id touches one folder (no scan), and the metadata key is that same relative path.
 * Segments are escaped so no input can leave the blob root or collide with another key (style.md rule 8).
 */
import { PACKAGE_FILES } from '../nuget/package-files.ts';
import type { BlobFile, BlobKey } from './types.ts';



/**
 * Injective escape of one path segment: keeps [a-z0-9_-] and inner dots, %-escapes everything else (including
 * upper case, so case-insensitive file systems cannot merge two keys) and a leading dot (no `.`, `..`, hidden
 * names, and no clash with the `.tmp`/`.inflight` names the store uses).
 */
export function escapeSegment(segment: string): string {
  if (segment === '') return '%';
  let out = '';
  for (const ch of segment) {
    const allowed = /^[a-z0-9_-]$/.test(ch) || (ch === '.' && out !== '');
    out += allowed ? ch : [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
  return out;
}

export function unescapeSegment(segment: string): string {
  if (segment === '%') return '';
  return decodeURIComponent(segment);
}

/** Relative path (with '/') of a blob under the blob root; also its metadata key. */
export function blobRelPath(key: BlobKey): string {
  return [key.id, key.version, key.upstream, key.file].map(escapeSegment).join('/');
}

/** The metadata-key prefix shared by every blob of one id. */
export function blobIdPrefix(id: string): string {
  return `${escapeSegment(id)}/`;
}

export function isBlobFile(name: string): name is BlobFile {
  return (PACKAGE_FILES as readonly string[]).includes(name);
}

/** Inverse of blobRelPath; undefined for anything it did not produce. */
export function parseBlobRelPath(rel: string): BlobKey | undefined {
  const parts = rel.split('/');
  if (parts.length !== 4) return undefined;
  const [id, version, upstream, file] = parts;
  if (id === undefined || version === undefined || upstream === undefined || file === undefined || !isBlobFile(file)) return undefined;
  try {
    return { id: unescapeSegment(id), version: unescapeSegment(version), upstream: unescapeSegment(upstream), file };
  } catch {
    return undefined;
  }
}
