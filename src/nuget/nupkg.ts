/**
 * Reads files out of a .nupkg (a zip, https://learn.microsoft.com/nuget/reference/nuspec) without loading the
 * package into memory: yauzl reads the central directory and then only the entries we ask for.
 * A package must have exactly one `*.nuspec` at its root (NuGet.Packaging PackageHelper.IsManifest/IsRoot;
 * "Package contains multiple nuspec files" otherwise).
 */
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import { unzipSync } from 'fflate';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { InvalidPackageError, parseNuspec } from './nuspec.ts';
import type { Nuspec } from './nuspec.ts';

export interface PackageManifest {
  nuspec: Nuspec;
  /** The nuspec bytes exactly as stored in the package (served as `{id}.nuspec` by the flat container). */
  xml: Buffer;
}

/** Real nuspecs are a few KB; anything this big is an attack or a broken package. */
export const MAX_NUSPEC_BYTES = 4 * 1024 * 1024;

/** A root-level `*.nuspec`: the package manifest. */
export function isRootNuspec(name: string): boolean {
  // Extension match is case-insensitive, as in NuGet's PackageHelper.IsManifest.
  return !name.includes('/') && !name.includes('\\') && name.toLowerCase().endsWith('.nuspec');
}

/** Errors from the operating system (ENOENT, EACCES, EIO…) are not the package's fault; pass them through. */
function isSystemError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function toPackageError(err: unknown, what: string): unknown {
  if (err instanceof InvalidPackageError || isSystemError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new InvalidPackageError(`${what}: ${reason}`, { cause: err });
}

/**
 * Opens the zip, hands each entry to `visit` in central-directory order, and always releases the file:
 * leaving the loop early makes yauzl close it (autoClose), as does reaching the end.
 * `visit` returns true to stop early.
 */
async function scanZip(path: string, visit: (zip: ZipFile, entry: Entry) => Promise<boolean>): Promise<void> {
  let zip: ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: true });
  } catch (err) {
    throw toPackageError(err, `not a valid zip package (${path})`);
  }
  try {
    for await (const entry of zip.eachEntry()) {
      if (await visit(zip, entry)) break;
    }
  } catch (err) {
    throw toPackageError(err, `corrupt zip package (${path})`);
  }
}

/** Reads one whole entry, refusing it up front when its declared size is over `maxBytes`. */
async function readEntry(zip: ZipFile, entry: Entry, maxBytes: number): Promise<Buffer> {
  // yauzl checks (validateEntrySizes) that the inflated data matches the declared size, so this bound holds.
  if (entry.uncompressedSize > maxBytes) {
    throw new InvalidPackageError(`zip entry ${entry.fileName} is ${entry.uncompressedSize} bytes, over the ${maxBytes}-byte limit`);
  }
  const stream: Readable = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  // for-await destroys the stream on error, which releases yauzl's reference on the file.
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Reads and parses the manifest of a package on disk.
 * Throws InvalidPackageError for a corrupt or truncated zip, no root nuspec, two or more root nuspecs, a nuspec
 * over 4 MiB, or a nuspec parseNuspec rejects. File system errors (e.g. ENOENT) are rethrown unchanged.
 */
export async function readManifestFromFile(path: string): Promise<PackageManifest> {
  let xml: Buffer | undefined;
  await scanZip(path, async (zip, entry) => {
    if (!isRootNuspec(entry.fileName)) return false;
    if (xml !== undefined) throw new InvalidPackageError('package contains more than one .nuspec at its root');
    // Read now: with autoClose the file is closed once the directory scan ends.
    xml = await readEntry(zip, entry, MAX_NUSPEC_BYTES);
    return false;
  });
  if (xml === undefined) throw new InvalidPackageError('package has no .nuspec at its root');
  return { nuspec: parseNuspec(xml), xml };
}

/**
 * Same as readManifestFromFile for a package already in memory (e.g. a small push body or a test fixture).
 * Only the root nuspec is inflated.
 */
export function readManifestFromBuffer(buf: Uint8Array): PackageManifest {
  let roots = 0;
  let declaredSize = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(buf, {
      filter: (file) => {
        if (!isRootNuspec(file.name)) return false;
        roots++;
        declaredSize = file.originalSize;
        return roots === 1 && file.originalSize <= MAX_NUSPEC_BYTES;
      },
    });
  } catch (err) {
    throw toPackageError(err, 'not a valid zip package');
  }
  if (roots === 0) throw new InvalidPackageError('package has no .nuspec at its root');
  if (roots > 1) throw new InvalidPackageError('package contains more than one .nuspec at its root');
  if (declaredSize > MAX_NUSPEC_BYTES) {
    throw new InvalidPackageError(`nuspec is ${declaredSize} bytes, over the ${MAX_NUSPEC_BYTES}-byte limit`);
  }
  const data = Object.values(files)[0];
  // fflate does not check the inflated length against the directory; a mismatch means a corrupt entry.
  if (data === undefined || data.byteLength !== declaredSize) throw new InvalidPackageError('corrupt .nuspec entry');
  const xml = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { nuspec: parseNuspec(xml), xml };
}

/** Nuspec paths may use '\' and a leading '/' or './'; zip entries use '/' and may be percent-escaped (OPC). */
function normalizeEntryPath(path: string): string {
  return path.replaceAll('\\', '/').replace(/^(?:\.?\/)+/, '');
}

function unescapeEntryName(name: string): string {
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/**
 * For icon and readme files inside a package, by their path in the nuspec (<icon>, <readme>); undefined when absent.
 * Bounded by maxBytes: an entry declared larger than that throws InvalidPackageError instead of being read.
 * Matching is exact first (NuGet's ZipArchiveExtensions.LookupEntry) and falls back to a case-insensitive match,
 * since nuget.org accepts `<icon>` paths that differ from the entry only in case.
 */
export async function readEntryFromFile(path: string, entryName: string, maxBytes: number): Promise<Buffer | undefined> {
  const wanted = normalizeEntryPath(entryName);
  if (wanted === '') return undefined;
  const wantedLower = wanted.toLowerCase();
  let exact: Buffer | undefined;
  let caseInsensitive: Buffer | undefined;
  await scanZip(path, async (zip, entry) => {
    const name = normalizeEntryPath(unescapeEntryName(entry.fileName));
    if (name === wanted) {
      exact = await readEntry(zip, entry, maxBytes);
      return true;
    }
    if (caseInsensitive === undefined && name.toLowerCase() === wantedLower) {
      caseInsensitive = await readEntry(zip, entry, maxBytes);
    }
    return false;
  });
  return exact ?? caseInsensitive;
}
