/**
 * Reads files out of a .nupkg (a zip, https://learn.microsoft.com/nuget/reference/nuspec) without loading the
 * package into memory: yauzl reads the central directory and then only the entries we ask for.
 * A package must have exactly one `*.nuspec` at its root (NuGet.Packaging PackageHelper.IsManifest/IsRoot;
 * "Package contains multiple nuspec files" otherwise).
 */
import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
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

/** Bytes read at once from the end of a package: its central directory (~100 bytes a file) is nearly always in it. */
const TAIL_BYTES = 256 * 1024;
const ENTRY_READ_BYTES = 64 * 1024;

/**
 * A package file for yauzl, its last bytes held in memory. yauzl reads the central directory with two small reads
 * per entry; from a file each is a thread-pool round trip (a 1,000-file package: ~2,000 of them, the bulk of
 * verifying a download), from the held tail a copy. Anything before the tail is read from the file.
 */
class PackageFileReader extends yauzl.RandomAccessReader {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly tail: Buffer,
    private readonly tailStart: number,
  ) {
    super();
  }

  private inTail(start: number, end: number): boolean {
    return start >= this.tailStart && end <= this.tailStart + this.tail.length;
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    if (this.inTail(position, position + length)) {
      this.tail.copy(buffer, offset, position - this.tailStart, position - this.tailStart + length);
      process.nextTick(callback, null);
      return;
    }
    this.handle.read(buffer, offset, length, position).then(
      ({ bytesRead }) => callback(bytesRead < length ? new Error('unexpected end of file') : null),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (this.inTail(start, end)) return Readable.from([this.tail.subarray(start - this.tailStart, end - this.tailStart)]);
    // Not FileHandle.createReadStream: destroying that stream closes the handle (even with autoClose: false),
    // and yauzl destroys every entry stream it is done with.
    const handle = this.handle;
    let position = start;
    return new Readable({
      read() {
        const length = Math.min(ENTRY_READ_BYTES, end - position);
        if (length <= 0) {
          this.push(null);
          return;
        }
        const buf = Buffer.allocUnsafe(length);
        handle.read(buf, 0, length, position).then(
          ({ bytesRead }) => {
            if (bytesRead === 0) {
              this.destroy(new Error('unexpected end of file'));
              return;
            }
            position += bytesRead;
            this.push(buf.subarray(0, bytesRead));
          },
          (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
  }

  override close(callback: (err: Error | null) => void): void {
    this.release().then(() => callback(null), (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
  }

  /** Closes the file once, whoever asks first (yauzl when its last user is done, or scanZip). */
  release(): Promise<void> {
    this.closing ??= this.handle.close();
    return this.closing;
  }
}

async function openPackage(path: string): Promise<PackageFileReader & { size: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const tailStart = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.allocUnsafe(size - tailStart);
    const { bytesRead } = await handle.read(tail, 0, tail.length, tailStart);
    return Object.assign(new PackageFileReader(handle, tail.subarray(0, bytesRead), tailStart), { size: tailStart + bytesRead });
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Opens the zip, hands each entry to `visit` in central-directory order, and always releases the file, however
 * the scan ends. `visit` returns true to stop early.
 */
async function scanZip(path: string, visit: (zip: ZipFile, entry: Entry) => Promise<boolean>): Promise<void> {
  const reader = await openPackage(path);
  try {
    let zip: ZipFile;
    try {
      zip = await yauzl.fromRandomAccessReaderPromise(reader, reader.size, { lazyEntries: true, autoClose: false });
    } catch (err) {
      throw toPackageError(err, `not a valid zip package (${path})`);
    }
    try {
      for await (const entry of zip.eachEntry()) {
        if (await visit(zip, entry)) break;
      }
    } catch (err) {
      throw toPackageError(err, `corrupt zip package (${path})`);
    } finally {
      zip.close();
    }
  } finally {
    await reader.release();
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
