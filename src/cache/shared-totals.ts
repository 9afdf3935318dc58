/**
 * The running totals of the blob tier (bytes, count), one for the whole shared folder however many processes
 * fill it (issue 10: each process used to overwrite the shared total with its own, so two workers kept 24.5 MB
 * under a 13 MB cap). Every change is an atomic increment of the one shared value:
 * - Redis store: HINCRBY on `<prefix>:state:blob-totals:n`;
 * - file store: read, add, write under a lock file next to the totals file in cache.dir;
 * - memory store (one process): kept in the state namespace as before.
 * The evictor replaces the value with an exact count from a walk of the shared index (blob-cache.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { acquireLock } from './file-lock.ts';
import { isErrno } from './fs-util.ts';
import type { MetaStore, RedisLink } from './meta.ts';
import { isBlobTotals, type BlobTotals } from './records.ts';

export interface SharedTotals {
  /** Adds to the shared totals (negative to subtract); returns the totals after the change. */
  add(delta: BlobTotals): Promise<BlobTotals>;
  /** Replaces them with an exact count. */
  set(totals: BlobTotals): Promise<void>;
  get(): Promise<BlobTotals | undefined>;
}

const TOTALS_KEY = 'blob-totals';
/** A totals update that cannot get the lock in this time gives up (the next eviction walk recounts). */
const LOCK_WAIT_MS = 2000;

function clamp(t: BlobTotals): BlobTotals {
  return { bytes: Math.max(0, t.bytes), count: Math.max(0, t.count) };
}

/** One process alone (memory store): totals kept here, persisted in the state namespace. */
export function storeTotals(state: MetaStore<BlobTotals>): SharedTotals {
  let totals: BlobTotals | undefined;
  let write: Promise<void> = Promise.resolve();
  const persist = (t: BlobTotals): Promise<void> => (write = write.then(() => state.set(TOTALS_KEY, { ...t })));
  return {
    async add(delta) {
      totals = clamp({ bytes: (totals?.bytes ?? 0) + delta.bytes, count: (totals?.count ?? 0) + delta.count });
      const now = totals;
      await persist(now);
      return now;
    },
    async set(t) {
      totals = clamp(t);
      await persist(totals);
    },
    async get() {
      totals ??= await state.get(TOTALS_KEY);
      return totals;
    },
  };
}

/** A JSON file on the shared volume, changed only under its lock file. */
export function fileTotals(path: string): SharedTotals {
  const lockPath = `${path}.lock`;
  const read = async (): Promise<BlobTotals | undefined> => {
    try {
      const value: unknown = JSON.parse(await readFile(path, 'utf8'));
      return isBlobTotals(value) ? value : undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  };
  const write = async (t: BlobTotals): Promise<void> => {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(t));
    await rename(tmp, path);
  };
  const locked = async <T>(work: () => Promise<T>): Promise<T> => {
    await mkdir(dirname(path), { recursive: true });
    const lease = await acquireLock(lockPath, LOCK_WAIT_MS);
    if (lease === undefined) throw new Error('blob totals are locked by another process for too long');
    try {
      return await work();
    } finally {
      await lease.release();
    }
  };
  return {
    add: (delta) =>
      locked(async () => {
        const now = await read();
        const next = clamp({ bytes: (now?.bytes ?? 0) + delta.bytes, count: (now?.count ?? 0) + delta.count });
        await write(next);
        return next;
      }),
    set: (t) => locked(() => write(clamp(t))),
    get: read,
  };
}

/** A Redis hash, changed with HINCRBY (atomic across every instance). */
export function redisTotals(link: RedisLink): SharedTotals {
  const key = `${link.prefix}:state:${TOTALS_KEY}:n`;
  const toTotals = (bytes: number, count: number): BlobTotals => ({ bytes, count });
  return {
    add: (delta) =>
      link.run('totals', async (c) => {
        const [bytes, count] = await Promise.all([c.hIncrBy(key, 'bytes', delta.bytes), c.hIncrBy(key, 'count', delta.count)]);
        return clamp(toTotals(bytes, count));
      }),
    set: (t) =>
      link.run('totals', async (c) => {
        await c.hSet(key, { bytes: String(Math.max(0, t.bytes)), count: String(Math.max(0, t.count)) });
      }),
    get: () =>
      link.run('totals', async (c) => {
        const h = await c.hGetAll(key);
        const bytes = Number(h.bytes);
        const count = Number(h.count);
        return Number.isFinite(bytes) && Number.isFinite(count) && h.bytes !== undefined ? clamp(toTotals(bytes, count)) : undefined;
      }),
  };
}
