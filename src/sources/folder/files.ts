/**
 * Reads the files of an indexed package straight from the folder: the .nupkg itself (an open handle, so a file
 * removed after the lookup is still sent whole), and the nuspec, icon and readme from inside it (bounded reads).
 *
 * Only a file the scan found is ever opened, by the path the scan resolved, after checking that it still
 * resolves inside the folder; the final open refuses a symbolic link (O_NOFOLLOW), so a file swapped for a link
 * since the check is not followed. A file that changed since the scan is reported as such, never served under
 * the scan's hash.
 */
import { contentTypeOf, iconContentType } from '../../nuget/package-files.ts';
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { etagFor } from '../../cache/blob-cache.ts';
import type { BlobFile, BlobResult } from '../../cache/types.ts';
import { readEntryFromFile, readManifestFromFile } from '../../nuget/nupkg.ts';
import { InvalidPackageError } from '../../nuget/nuspec.ts';
import { isInside, type FolderPackage } from './scan.ts';
import { errnoOf } from '../../cache/fs-util.ts';

/**
 * What reading a file gave:
 * - a BlobResult;
 * - 'absent': the package has no such file (no `<icon>` / `<readme>` in its nuspec);
 * - 'gone': the file vanished, broke or now resolves outside the folder since the scan (a rescan will drop it);
 * - 'changed': the file is there but is not what the scan read (size or time differ): rescan before serving it.
 */
export type FileRead = BlobResult | 'absent' | 'gone' | 'changed';

/** nuget.org refuses icons over 1 MB and readmes over 1 MB; a little headroom, still never a big read into memory. */
const MAX_ASSET_BYTES = 8 * 1024 * 1024;
/** O_NOFOLLOW is not defined on Windows; there the realpath check alone guards the open. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
/** Error codes that mean "the file the index names is gone or was replaced by something we will not follow". */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'EISDIR']);

function isGone(err: unknown): boolean {
  const code = errnoOf(err);
  return code !== undefined && GONE.has(code);
}

const unchanged = (s: Stats, pkg: FolderPackage): boolean => s.isFile() && s.size === pkg.size && s.mtimeMs === pkg.mtimeMs;


function bufferResult(data: Buffer, contentType: string): BlobResult {
  const sha512 = createHash('sha512').update(data).digest('base64');
  return { body: { kind: 'buffer', data }, size: data.length, contentType, etag: etagFor(sha512), sha512, state: 'HIT' };
}

export class FolderFiles {
  private readonly root: string;
  private readonly log: Logger;

  /** `root` must be the folder's real path (symbolic links resolved). */
  constructor(root: string, log: Logger) {
    this.root = root;
    this.log = log;
  }

  /** Reads `file` of `pkg`. Throws only for I/O errors other than a vanished file (EACCES, EIO...). */
  async read(pkg: FolderPackage, file: BlobFile): Promise<FileRead> {
    const path = await this.locate(pkg);
    if (path === undefined) return 'gone';
    if (file === 'nupkg') return this.openNupkg(pkg, path);
    const entry = file === 'icon' ? pkg.nuspec.icon : file === 'readme' ? pkg.nuspec.readme : undefined;
    if (file !== 'nuspec' && entry === undefined) return 'absent';
    try {
      // The nuspec decides which entry holds the icon or readme: only read it from the file the scan read.
      if (!unchanged(await stat(path), pkg)) return 'changed';
      if (file === 'nuspec' || entry === undefined) return bufferResult((await readManifestFromFile(path)).xml, 'application/xml');
      const bytes = await readEntryFromFile(path, entry, MAX_ASSET_BYTES);
      if (bytes === undefined) return 'absent';
      return bufferResult(bytes, file === 'readme' ? contentTypeOf('readme') : iconContentType(entry));
    } catch (err) {
      if (!(err instanceof InvalidPackageError) && !isGone(err)) throw err;
      this.log.warn({ file: pkg.path, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: package unreadable since the scan');
      return 'gone';
    }
  }

  /** The package file, open: the handle goes to the caller with the result. */
  private async openNupkg(pkg: FolderPackage, path: string): Promise<FileRead> {
    let handle: FileHandle;
    try {
      handle = await open(path, OPEN_FLAGS);
    } catch (err) {
      if (isGone(err)) return 'gone';
      throw err;
    }
    let stats: Stats;
    try {
      stats = await handle.stat();
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    if (!unchanged(stats, pkg)) {
      await handle.close();
      return stats.isFile() ? 'changed' : 'gone';
    }
    return {
      body: { kind: 'file', path, handle },
      size: stats.size,
      contentType: 'application/octet-stream',
      etag: etagFor(pkg.sha512),
      sha512: pkg.sha512,
      state: 'HIT',
    };
  }

  /** The path of an indexed package as it is now, or undefined when it is gone or no longer inside the folder. */
  private async locate(pkg: FolderPackage): Promise<string | undefined> {
    let real: string;
    try {
      real = await realpath(pkg.path);
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
    if (!isInside(this.root, real)) {
      this.log.warn({ file: pkg.path, target: real }, 'folder upstream: refusing a package that now points outside the folder');
      return undefined;
    }
    return real;
  }
}
