/**
 * The blob tier on disk (design.md §3 "Tiers", style.md rule 8). Layout under the blob root:
 *
 *   <id>/<version>/<upstream>/<file>            a complete, verified blob (keys.ts escapes every segment)
 *   <id>/<version>/<upstream>/.<file>.<token>.tmp   a download in progress, in the same folder as its target
 *   .inflight/<token>                            journal: names the temp file of each download in progress
 *
 * A download is written to the temp file, fsync'd, renamed over the target and the folder fsync'd; only then
 * does the caller index it. The journal entry is written before the temp file exists and removed after the
 * rename or the unlink, so after a crash `init()` finds every leftover temp file by reading `.inflight/` alone:
 * no scan of the blobs. Tokens start with the writer's pid and host, so a process sharing the folder does not
 * delete the temp files of a live neighbour, on this host or another.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pidAlive } from './file-lock.ts';
import { isErrno, syncDir } from './fs-util.ts';
import { blobRelPath, escapeSegment, parseBlobRelPath } from './keys.ts';
import type { BlobKey } from './types.ts';

const JOURNAL = '.inflight';
const TEMP_NAME = /^\..+\.tmp$/;
/** Tokens of downloads open in this process, so a second store on the same folder (tests) spares them. */
const activeTokens = new Set<string>();

/** A download being written: positional writes by the downloader, positional reads by every client. */
export interface TempBlob {
  readonly key: BlobKey;
  /** Where the bytes are now (the temp file); verification reads it. */
  readonly path: string;
  write(chunk: Buffer, position: number): Promise<void>;
  /** Reads into `buf` from `position`; returns the number of bytes read. */
  read(buf: Buffer, position: number): Promise<number>;
  /**
   * fsyncs what is written (once; the download is complete). Verification runs meanwhile: the client's last byte
   * waits for both, and neither needs the other.
   */
  flush(): Promise<void>;
  /** flush → rename into place → fsync the folder. The handle stays open and readable. */
  commit(): Promise<void>;
  /** Removes the temp file (a failed or unwanted download). */
  abort(): Promise<void>;
  /** Closes the handle; call once no reader needs it. */
  close(): Promise<void>;
}

/** A complete blob opened for reading; the caller closes the handle (or hands it to a stream that does). */
export interface OpenBlob {
  handle: FileHandle;
  size: number;
}

/** The storage interface the blob cache needs; test/contract/blob-store.contract.ts covers it. */
export interface BlobStore {
  /** Prepares the folders and removes temp files left by a crash; returns how many it removed. */
  init(): Promise<number>;
  begin(key: BlobKey): Promise<TempBlob>;
  /** Absolute path of a complete blob (it may not exist). */
  path(key: BlobKey): string;
  /**
   * Opens a complete blob for reading, or undefined when there is none. The handle keeps the bytes readable
   * even if the blob is removed afterwards (POSIX unlink semantics), so a send in progress survives eviction.
   */
  open(key: BlobKey): Promise<OpenBlob | undefined>;
  /** Removes a complete blob; true when it existed. */
  remove(key: BlobKey): Promise<boolean>;
  /** Every complete blob of an id, found by listing that id's folder only. */
  listId(id: string): Promise<BlobKey[]>;
}

/** Names this host in journal tokens: a pid means something only on the host that wrote it. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);

/**
 * Is the download behind a journal token over? Tokens are `<pid>-<host tag>-<random>` (older ones
 * `<pid>-<random>`, taken as this host's). Another host's download is never judged from here: its pid means
 * nothing on this host, and the volume is shared.
 */
function tokenAbandoned(token: string): boolean {
  const parts = token.split('-');
  const pid = Number.parseInt(parts[0] ?? '', 10);
  if (parts.length >= 3 && parts[1] !== HOST_TAG) return false;
  // Our own pid is a previous process's unless the token is open here (activeTokens, checked by the caller).
  return !(Number.isInteger(pid) && pid !== process.pid && pidAlive(pid));
}

export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly journal: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.journal = join(this.root, JOURNAL);
  }

  async init(): Promise<number> {
    await mkdir(this.journal, { recursive: true });
    let removed = 0;
    for (const token of await readdir(this.journal)) {
      // A live neighbour's download, or one of this process's own.
      if (activeTokens.has(token) || !tokenAbandoned(token)) continue;
      const marker = join(this.journal, token);
      const rel = await readFile(marker, 'utf8').catch(() => '');
      const temp = this.contained(rel);
      if (temp !== undefined && TEMP_NAME.test(basename(temp))) {
        await unlink(temp).then(
          () => removed++,
          (err: unknown) => {
            if (!isErrno(err, 'ENOENT')) throw err;
          },
        );
      }
      await unlink(marker).catch(() => undefined);
    }
    return removed;
  }

  /** Absolute path for a root-relative path, or undefined when it would leave the root. */
  private contained(rel: string): string | undefined {
    if (rel === '') return undefined;
    const abs = resolve(this.root, rel);
    return abs.startsWith(this.root + sep) ? abs : undefined;
  }

  path(key: BlobKey): string {
    const abs = this.contained(blobRelPath(key));
    // Unreachable: escaped segments cannot contain separators or dot-dot.
    if (abs === undefined) throw new Error('blob path escapes the store root');
    return abs;
  }

  async begin(key: BlobKey): Promise<TempBlob> {
    const target = this.path(key);
    const folder = dirname(target);
    const token = `${process.pid}-${HOST_TAG}-${randomBytes(8).toString('hex')}`;
    const tempPath = join(folder, `.${basename(target)}.${token}.tmp`);
    const marker = join(this.journal, token);
    activeTokens.add(token);
    try {
      // Journal first: once the temp file can exist, a crash must leave a record of it.
      await writeFile(marker, tempPath.slice(this.root.length + 1));
      for (let attempt = 0; ; attempt++) {
        try {
          await mkdir(folder, { recursive: true });
          const fh = await open(tempPath, 'wx+');
          return new FsTempBlob(key, tempPath, target, marker, token, fh);
        } catch (err) {
          // remove() of a sibling may tidy away the empty folder between our mkdir and open: try again.
          if (isErrno(err, 'ENOENT') && attempt < 3) continue;
          await unlink(marker).catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      activeTokens.delete(token);
      throw err;
    }
  }

  async open(key: BlobKey): Promise<OpenBlob | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(this.path(key), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw err;
    }
    try {
      const info = await handle.stat();
      if (info.isFile()) return { handle, size: info.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    await handle.close().catch(() => undefined);
    return undefined;
  }

  async remove(key: BlobKey): Promise<boolean> {
    const target = this.path(key);
    try {
      await unlink(target);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
      throw err;
    }
    // Tidy empty folders up to the id folder; a folder still in use (another file, a temp file) stays.
    let dir = dirname(target);
    for (let i = 0; i < 3; i++) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
    return true;
  }

  async listId(id: string): Promise<BlobKey[]> {
    const idDir = join(this.root, escapeSegment(id));
    const keys: BlobKey[] = [];
    const list = (dir: string): Promise<string[]> =>
      readdir(dir).then(
        (names) => names.filter((n) => !n.startsWith('.')),
        (err: unknown) => {
          if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
          throw err;
        },
      );
    const idSeg = escapeSegment(id);
    for (const version of await list(idDir)) {
      for (const upstream of await list(join(idDir, version))) {
        for (const file of await list(join(idDir, version, upstream))) {
          const key = parseBlobRelPath(`${idSeg}/${version}/${upstream}/${file}`);
          if (key !== undefined) keys.push(key);
        }
      }
    }
    return keys;
  }
}

class FsTempBlob implements TempBlob {
  private closed = false;
  private flushed: Promise<void> | undefined;

  constructor(
    readonly key: BlobKey,
    readonly path: string,
    private readonly target: string,
    private readonly marker: string,
    private readonly token: string,
    private readonly fh: FileHandle,
  ) {}

  async write(chunk: Buffer, position: number): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, offset, chunk.length - offset, position + offset);
      offset += bytesWritten;
    }
  }

  async read(buf: Buffer, position: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, position);
    return bytesRead;
  }

  flush(): Promise<void> {
    this.flushed ??= this.fh.sync();
    return this.flushed;
  }

  async commit(): Promise<void> {
    await this.flush();
    await rename(this.path, this.target);
    await syncDir(dirname(this.target));
    await unlink(this.marker).catch(() => undefined);
    activeTokens.delete(this.token);
  }

  async abort(): Promise<void> {
    await unlink(this.path).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
    await unlink(this.marker).catch(() => undefined);
    activeTokens.delete(this.token);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    activeTokens.delete(this.token);
    await this.fh.close();
  }
}
