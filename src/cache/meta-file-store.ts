/**
 * keyv storage adapter that keeps one file per key: the embedded metadata store (design.md §3 "Tiers"). No
 * server, nothing to download, persistent across restarts, and nothing is read at start: a key is found by
 * hashing it, so a lookup costs one file read however many entries exist.
 *
 * File name: sha256(key) in hex, sharded by its first two characters (`<dir>/ab/ab12….kv`).
 * File body: the key as a JSON string, a newline, then keyv's serialized value — the key is kept so that
 * iteration (eviction by prefix, stats, prune) can tell which key a file belongs to.
 * Writes are atomic (style.md rule 8): a temp file in the same folder, then rename. No fsync: a torn or empty
 * file after a power loss reads as "missing" (the cache refetches), which is the cheap, safe failure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './fs-util.ts';

const SUFFIX = '.kv';
/** Temp files: `<hash>.kv.<random>.tmp`, never read as entries. */
const TMP_SUFFIX = '.tmp';
/** Enough of a file to hold its key line in all but pathological cases. */
const HEAD_BYTES = 4096;

export interface FileStoreOptions {
  /** Directory that holds this store's files; created on first write. */
  dir: string;
}

/** Parses a stored file; undefined for a torn or foreign file. */
function decode(text: string): { key: string; value: string } | undefined {
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    const key: unknown = JSON.parse(text.slice(0, nl));
    return typeof key === 'string' ? { key, value: text.slice(nl + 1) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Implements keyv's KeyvStoreAdapter contract (get/set/delete/clear/iterator). Values arrive already
 * serialized by keyv (strings); expiry is keyv's business, so `ttl` is ignored here.
 */
export class FileStore extends EventEmitter {
  /** keyv reads `opts`; an empty url keeps keyv's own iterator detection (which keys on url/dialect) quiet. */
  readonly opts: { dialect: string; url: string; dir: string };
  namespace?: string | undefined;
  private readonly dir: string;
  /** Shard folders known to exist, so a write costs no mkdir after the first one. */
  private readonly madeDirs = new Set<string>();

  constructor(options: FileStoreOptions) {
    super();
    this.dir = options.dir;
    this.opts = { dialect: 'nugate-file', url: '', dir: options.dir };
  }

  private locate(key: string): { folder: string; file: string } {
    const hash = createHash('sha256').update(key).digest('hex');
    const folder = join(this.dir, hash.slice(0, 2));
    return { folder, file: join(folder, hash + SUFFIX) };
  }

  async get(key: string): Promise<string | undefined> {
    const { file } = this.locate(key);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    const entry = decode(text);
    // A different key in the file would be a sha256 collision; a torn file has no header. Both read as absent.
    return entry !== undefined && entry.key === key ? entry.value : undefined;
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  async set(key: string, value: unknown): Promise<boolean> {
    if (typeof value !== 'string') throw new TypeError('FileStore.set: expected a serialized string value');
    const { folder, file } = this.locate(key);
    if (!this.madeDirs.has(folder)) {
      await mkdir(folder, { recursive: true });
      this.madeDirs.add(folder);
    }
    const tmp = `${file}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
    try {
      await writeFile(tmp, `${JSON.stringify(key)}\n${value}`, { flag: 'wx' });
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (isErrno(err, 'ENOENT')) this.madeDirs.delete(folder); // the folder was removed under us (clear)
      throw err;
    }
    return true;
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.locate(key).file);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    const results = await Promise.all(keys.map((k) => this.delete(k)));
    return results.every(Boolean);
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    this.madeDirs.clear();
  }

  /** Paths of every entry file. */
  private async *files(): AsyncGenerator<string, void> {
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const shard of shards.sort()) {
      let names: string[];
      try {
        names = await readdir(join(this.dir, shard));
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
        throw err;
      }
      for (const name of names) if (name.endsWith(SUFFIX)) yield join(this.dir, shard, name);
    }
  }

  /**
   * Yields `[key, serializedValue]` for every entry. Reads every file: meant for rare maintenance walks
   * (stats, prune, eviction by size), never for the request path.
   */
  async *iterator(): AsyncGenerator<[string, string], void> {
    for await (const file of this.files()) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue; // deleted while we walked
        throw err;
      }
      const entry = decode(text);
      if (entry !== undefined) yield [entry.key, entry.value];
    }
  }

  /** Every key, reading only the head of each file (evict by prefix: pushes, so documents may be large). */
  async *keys(): AsyncGenerator<string, void> {
    const head = Buffer.alloc(HEAD_BYTES);
    for await (const file of this.files()) {
      let text: string;
      try {
        const fh = await open(file, 'r');
        try {
          const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
          text = head.toString('utf8', 0, bytesRead);
          // A key longer than the head: read the whole file.
          if (!text.includes('\n') && bytesRead === HEAD_BYTES) text = await fh.readFile('utf8');
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      const nl = text.indexOf('\n');
      if (nl < 0) continue;
      const entry = decode(text.slice(0, nl + 1));
      if (entry !== undefined) yield entry.key;
    }
  }

  /**
   * Removes temp files a crash left behind, if older than `minAgeMs` by their mtime (file system time, not the
   * injected clock, because the file system wrote it). Walks every shard: for `nugate cache prune`, not start-up.
   */
  async sweepTemp(minAgeMs: number): Promise<number> {
    let removed = 0;
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return 0;
      throw err;
    }
    for (const shard of shards) {
      const names = await readdir(join(this.dir, shard)).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.endsWith(TMP_SUFFIX)) continue;
        const path = join(this.dir, shard, name);
        const info = await stat(path).catch(() => undefined);
        if (info === undefined || Date.now() - info.mtimeMs < minAgeMs) continue;
        await unlink(path).then(() => removed++, () => undefined);
      }
    }
    return removed;
  }

  async disconnect(): Promise<void> {
    // Nothing to release: every operation opens and closes its own file.
  }
}
