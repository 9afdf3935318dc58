/**
 * Push, unlist and relist on a folder upstream: what turns a folder into a "hosted" feed (design.md §6, README
 * "Folder upstreams"). publish/routes.ts calls this instead of forwarding over HTTP when the target upstream is a
 * folder; it has already checked the client's key (folders need publish.keyMode "mapped") and read the nuspec.
 *
 * - push stores `{lowerid}/{lowerversion}/{lowerid}.{lowerversion}.nupkg` (NuGet's global-packages layout, which
 *   the scanner reads) plus its `.nupkg.sha512`. The file appears whole or not at all and is never replaced:
 *   an id+version already in the folder is 'exists' (the client's 409, so `--skip-duplicate` works).
 * - unlist and relist follow NuGet's semantics (delete = unlist): the file stays and restores of that exact
 *   version keep working; a marker beside it (scan.ts UNLISTED_SUFFIX) hides it from search and makes its
 *   registration say `listed: false`.
 *
 * Each operation ends with a rescan, so the next request through nugate already sees the change, and with the
 * folder's change stamp (live-index.ts), so the next request through any other process serving it does too.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, lstat, mkdir, open, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NugateError } from '../../errors.ts';
import { isValidId } from '../../nuget/id.ts';
import { lowerNormalized } from '../../nuget/version.ts';
import { findPackage, isInside, UNLISTED_SUFFIX, type FolderIndex, type FolderPackage } from './scan.ts';
import { errnoOf, syncDir } from '../../cache/fs-util.ts';
import { markChanged } from './live-index.ts';

/** What a push needs from the package's nuspec. */
export interface PushManifest {
  readonly id: string;
  readonly version: string;
}

export type PushResult = 'created' | 'exists';

export interface FolderPublisher {
  /** Stores the package file at `spooledPath` (left in place; the caller removes it). */
  push(spooledPath: string, manifest: PushManifest): Promise<PushResult>;
  /** False when the folder has no such id+version (any case, any equivalent version form). */
  unlist(id: string, version: string): Promise<boolean>;
  relist(id: string, version: string): Promise<boolean>;
}

export interface FolderPublisherOptions {
  /** The upstream's name, for messages. */
  name: string;
  /** The folder's real path (symbolic links resolved). */
  root: string;
  log: Logger;
  /** The current index, once the first scan has finished. */
  index(): Promise<FolderIndex>;
  /** Resolves when a scan started after the call has finished. */
  rescan(): Promise<void>;
}

/** Filesystems without hard links answer link() with one of these; there a checked rename stands in. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);
const FULL = new Set(['ENOSPC', 'EDQUOT']);

const MARKER_TEXT = 'Unlisted through nugate. Delete this file to list the package again.\n';


/**
 * Runs work one at a time per key: two pushes of one id+version in this process never race each other to the
 * existence check. Other processes sharing the folder are kept out by link(), which never replaces a file.
 */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Streams a file through a SHA-512 hash on its way (the hash is NuGet's `.nupkg.sha512`). */
async function* hashing(path: string, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    hash.update(chunk as Buffer);
    yield chunk as Buffer;
  }
}

/** Writes a new file (never an existing one) and flushes it to disk before returning. */
async function writeDurably(path: string, data: string | AsyncIterable<Buffer>): Promise<void> {
  const out = await open(path, 'wx');
  try {
    for await (const chunk of typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data) {
      // write() may write less than asked; carry on from where it stopped.
      for (let offset = 0; offset < chunk.length; ) offset += (await out.write(chunk, offset, chunk.length - offset)).bytesWritten;
    }
    await out.sync();
  } finally {
    await out.close();
  }
}


async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Gives `tmp` the name `dest` unless `dest` exists; false when it does. */
async function placeNoClobber(tmp: string, dest: string): Promise<boolean> {
  try {
    await link(tmp, dest);
    return true;
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EEXIST') return false;
    if (code === undefined || !NO_HARD_LINKS.has(code)) throw err;
  }
  if (await exists(dest)) return false;
  await rename(tmp, dest);
  return true;
}

export function createFolderPublisher(opts: FolderPublisherOptions): FolderPublisher {
  const { name, root, log } = opts;
  const queue = new KeyedQueue();

  /** The client sees the reason and the error code, never a path; the log gets the path. */
  function storeFailed(op: string, path: string, err: unknown): NugateError {
    if (err instanceof NugateError) return err;
    const code = errnoOf(err);
    log.warn({ op, path, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: write failed');
    const what = code === undefined ? 'could not be written' : READ_ONLY.has(code) ? 'is not writable' : FULL.has(code) ? 'is full' : 'could not be written';
    return new NugateError('FOLDER_WRITE_FAILED', 500, `Folder upstream "${name}" ${what}${code === undefined ? '' : ` (${code})`}`, { cause: err });
  }

  /** `{root}/{segment}`, created if missing, and refused if it resolves out of the folder (a planted link). */
  async function subdir(parent: string, segment: string): Promise<string> {
    const dir = join(parent, segment);
    await mkdir(dir).catch((err: unknown) => {
      if (errnoOf(err) !== 'EEXIST') throw err;
    });
    const real = await realpath(dir);
    if (!isInside(root, real) || real === root) {
      log.warn({ dir, target: real }, 'folder upstream: refusing to write through a link that leaves the folder');
      throw new NugateError('FOLDER_WRITE_FAILED', 500, `Folder upstream "${name}" has a link at ${segment} that points out of the folder`);
    }
    return real;
  }

  async function store(spooledPath: string, lowerId: string, lowerVersion: string): Promise<PushResult> {
    let dir: string;
    try {
      dir = await subdir(await subdir(root, lowerId), lowerVersion);
    } catch (err) {
      throw storeFailed('store', join(root, lowerId, lowerVersion), err);
    }
    const dest = join(dir, `${lowerId}.${lowerVersion}.nupkg`);
    // Hidden names: the scanner skips dot files, so a temp file is never indexed, even one a crash left behind.
    const tmp = join(dir, `.nugate-push-${randomUUID()}.tmp`);
    const hashTmp = `${tmp}.sha512`;
    let placed = false;
    try {
      const hash = createHash('sha512');
      await writeDurably(tmp, hashing(spooledPath, hash));
      await writeDurably(hashTmp, hash.digest('base64'));
      placed = await placeNoClobber(tmp, dest);
      if (!placed) {
        // A file the index does not know yet (copied in since the last scan): let the index catch up.
        void opts.rescan();
        return 'exists';
      }
    } catch (err) {
      throw storeFailed('store', dest, err);
    } finally {
      await rm(tmp, { force: true });
      if (!placed) {
        await rm(hashTmp, { force: true });
        // Only the version directory, which this id+version owns; the id's may be in use by another version's push.
        await rmdir(dir).catch(() => {});
      }
    }
    // The package is stored. What follows only helps: the scanner hashes a file without its sibling, and a
    // marker left by an earlier, removed package of this id+version must not unlist the new one.
    try {
      await rename(hashTmp, `${dest}.sha512`);
      await rm(`${dest}${UNLISTED_SUFFIX}`, { force: true });
      await syncDir(dir);
    } catch (err) {
      log.warn({ file: dest, err: (err as Error).message }, 'folder upstream: package stored, but its .sha512 or listing could not be written');
      await rm(hashTmp, { force: true }).catch(() => {});
    }
    return 'created';
  }

  /** Other processes serving this folder rescan before their next answer (live-index.ts CHANGE_STAMP). */
  async function announce(): Promise<void> {
    await markChanged(root).catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'folder upstream: cannot write the change stamp; other processes see the change at their next rescan'));
  }

  /** The indexed package for id+version; a miss rescans once, for a file dropped in since the last scan. */
  async function find(lowerId: string, lowerVersion: string): Promise<FolderPackage | undefined> {
    const pkg = findPackage(await opts.index(), lowerId, lowerVersion);
    if (pkg !== undefined) return pkg;
    await opts.rescan();
    return findPackage(await opts.index(), lowerId, lowerVersion);
  }

  async function setListed(id: string, version: string, listed: boolean): Promise<boolean> {
    const lowerVersion = lowerNormalized(version);
    if (!isValidId(id) || lowerVersion === undefined) return false;
    const lowerId = id.toLowerCase();
    return queue.run(`${lowerId}/${lowerVersion}`, async () => {
      const pkg = await find(lowerId, lowerVersion);
      if (pkg === undefined) return false;
      const marker = `${pkg.path}${UNLISTED_SUFFIX}`;
      try {
        if (listed) await rm(marker, { force: true });
        else await writeFile(marker, MARKER_TEXT);
      } catch (err) {
        throw storeFailed(listed ? 'relist' : 'unlist', marker, err);
      }
      await announce();
      await opts.rescan();
      return true;
    });
  }

  return {
    async push(spooledPath, manifest) {
      const lowerVersion = lowerNormalized(manifest.version);
      if (!isValidId(manifest.id) || lowerVersion === undefined) {
        throw new NugateError('BAD_REQUEST', 400, `Invalid package id or version "${manifest.id} ${manifest.version}"`);
      }
      const lowerId = manifest.id.toLowerCase();
      return queue.run(`${lowerId}/${lowerVersion}`, async () => {
        // Any file of this id+version counts, whatever its name or place in the folder (a loose drop-in too).
        if (findPackage(await opts.index(), lowerId, lowerVersion) !== undefined) return 'exists';
        const result = await store(spooledPath, lowerId, lowerVersion);
        if (result === 'created') {
          await announce();
          await opts.rescan();
        }
        return result;
      });
    },
    unlist: (id, version) => setListed(id, version, false),
    relist: (id, version) => setListed(id, version, true),
  };
}
