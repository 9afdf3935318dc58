/**
 * Coalescing across processes (issue 10): one process downloads a blob, the others sharing the folder wait for
 * it. The download's owner holds a lock file beside its temp file (`<id>/<version>/<upstream>/.<file>.lock`,
 * file-lock.ts: owner, heartbeat) from before its upstream request until the blob is committed and indexed, or
 * the download failed and its temp file is gone. A waiter polls the lock: once it is released the waiter looks
 * the blob up again; once its owner is dead (kill -9 on this host: at once; another host: no heartbeat for
 * `staleMs`) the next waiter takes it over and downloads itself. A waiter never reads the owner's temp file, so
 * nothing partial or unverified can reach its clients.
 */
import { basename, dirname, join } from 'node:path';
import { inspectLock, tryLock, type Lease, type LockOptions } from './file-lock.ts';
import type { BlobKey } from './types.ts';

export interface BlobClaims {
  /** The download of `key` for this process; undefined while a live process holds it. */
  claim(key: BlobKey): Promise<Lease | undefined>;
  /** Resolves once the claim on `key` is released or its holder is dead, or as soon as `stop()` is true. */
  waitFree(key: BlobKey, stop: () => boolean): Promise<void>;
}

/** A claim with no lock file behind it (one process alone, or a lock file that could not be made). */
export const NO_LEASE: Lease = { path: '', owner: { host: '', pid: process.pid, token: '' }, held: () => true, release: async () => undefined };

/** One process alone: every download is this process's own. */
export const ownClaims: BlobClaims = {
  claim: async () => NO_LEASE,
  waitFree: async () => undefined,
};

const POLL_MS = 100;

/** Claims as lock files beside the blobs; `pathOf` is the blob's own path (blob-fs.ts). */
export function fileClaims(pathOf: (key: BlobKey) => string, opts: LockOptions & { pollMs?: number } = {}): BlobClaims {
  const lockOf = (key: BlobKey): string => {
    const target = pathOf(key);
    // A dot name: blob listings skip it, and escaped segments never start with a dot (keys.ts).
    return join(dirname(target), `.${basename(target)}.lock`);
  };
  const pollMs = opts.pollMs ?? POLL_MS;
  return {
    claim: (key) => tryLock(lockOf(key), opts),
    async waitFree(key, stop) {
      const path = lockOf(key);
      while (!stop()) {
        const state = await inspectLock(path, opts).catch(() => undefined);
        if (state === undefined || !state.alive) return;
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
  };
}
