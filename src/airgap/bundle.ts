/**
 * The bundle format (`nugate export` / `nugate import`): a standard tar archive, gzip-compressed when its name ends
 * in .gz or .tgz, that `tar tf` lists:
 *
 *   manifest.json                        this format: every file below with its size and SHA-512
 *   blobs/<id>/<version>/<upstream>/<file>   package files, laid out as in the blob tier (cache/keys.ts)
 *   docs/<n>.json                        metadata documents, each a StoredDoc as the metadata tier holds it
 *
 * Import trusts nothing in the archive until every file listed here matches its size and hash.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { z } from 'zod';
import { blobRelPath, isBlobFile } from '../cache/keys.ts';
import type { BlobKey, DocKind } from '../cache/types.ts';
import { isValidId } from '../nuget/id.ts';
import { lowerNormalized } from '../nuget/version.ts';

export const MANIFEST = 'manifest.json';
export const FORMAT = 'nugate-bundle';
export const FORMAT_VERSION = 1;

const sha512 = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 SHA-512');
const size = z.number().int().min(0);

const fileEntry = z
  .object({
    path: z.string(),
    id: z.string(),
    version: z.string(),
    upstream: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    file: z.string().refine(isBlobFile, 'unknown package file kind'),
    size,
    sha512,
  })
  .strict();

const docEntry = z
  .object({
    path: z.string().regex(/^docs\/[0-9]{1,9}\.json$/),
    key: z.string().min(1).max(2048),
    kind: z.enum(['metadata', 'search', 'serviceIndex', 'immutable']),
    upstream: z.string(),
    size,
    sha512,
    /** SHA-512 of the status and body alone: what `--since` compares (a revalidation changes only the stamps). */
    content: sha512,
  })
  .strict();

const manifestSchema = z
  .object({
    format: z.literal(FORMAT),
    version: z.literal(FORMAT_VERSION),
    created: z.string(),
    files: z.array(fileEntry),
    documents: z.array(docEntry),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;
export type FileEntry = z.infer<typeof fileEntry>;
export type DocEntry = z.infer<typeof docEntry> & { kind: DocKind };

export class BundleError extends Error {}

export function blobKeyOf(entry: FileEntry): BlobKey {
  return { id: entry.id, version: entry.version, upstream: entry.upstream, file: entry.file as BlobKey['file'] };
}

/** Where a package file lives in a bundle. */
export function blobPath(key: BlobKey): string {
  return `blobs/${blobRelPath(key)}`;
}

/** Parses and checks a manifest: shape, and every package file's path derived from its own (valid) key. */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${where}: manifest.json is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new BundleError(`${where}: manifest.json is not a nugate bundle manifest (${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  const manifest = parsed.data;
  for (const f of manifest.files) {
    if (!isValidId(f.id) || f.id !== f.id.toLowerCase() || lowerNormalized(f.version) !== f.version) throw new BundleError(`${where}: ${f.path}: not a package id and normalized version (${f.id} ${f.version})`);
    if (f.path !== blobPath(blobKeyOf(f))) throw new BundleError(`${where}: ${f.path}: path does not match its package (${f.id} ${f.version} ${f.file})`);
  }
  return manifest;
}

export function isGzipName(path: string): boolean {
  return /\.(t?gz)$/i.test(path);
}

/** Reads only the manifest of a bundle (for `export --since`). */
export async function readBundleManifest(bundle: string, tmpRoot: string): Promise<Manifest> {
  const dir = await mkdtemp(join(tmpRoot, 'manifest-'));
  try {
    await tar.x({ file: bundle, cwd: dir, strict: true }, [MANIFEST]);
    return parseManifest(await readFile(join(dir, MANIFEST), 'utf8'), bundle);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${bundle}: cannot read its manifest (${err instanceof Error ? err.message : String(err)})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** SHA-512 (base64) and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha512: string; size: number }> {
  const hash = createHash('sha512');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha512: hash.digest('base64'), size: bytes };
}

export function hashText(text: string): string {
  return createHash('sha512').update(text, 'utf8').digest('base64');
}
