/**
 * Lock files on the cache volume, so processes sharing `cache.dir` (workers on one host, instances on hosts that
 * share the volume) agree on who downloads a blob, who evicts and who updates the blob totals.
 *
 * A lock is a file created with O_EXCL holding its owner (host, pid, a random token). The owner touches it every
 * `heartbeatMs` while it holds it. A lock is dead, and may be taken over, when its owner is a process of this host
 * that no longer exists (kill -9: noticed at once), or when it has not been touched for `staleMs` (a crashed
 * host). Taking over renames the dead file aside first, so of several processes that judged it dead only one wins.
 * A lock held twice in a rare race costs a duplicate download or eviction walk, never wrong data: every writer
 * has its own temp file and commits by rename.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { isErrno } from './fs-util.ts';

export interface LockOwner {
  host: string;
  pid: number;
  token: string;
}

export interface LockOptions {
  /** How often the owner touches the file (default 1 s). */
  heartbeatMs?: number;
  /** Untouched this long, a lock is dead whoever holds it (default 15 s). */
  staleMs?: number;
}

/** A held lock. `release` is idempotent and removes the file only while it is still this holder's. */
export interface Lease {
  readonly path: string;
  readonly owner: LockOwner;
  /** False once the lock was found taken over (this holder was judged dead) or released. */
  held(): boolean;
  release(): Promise<void>;
}

export interface LockState {
  owner: LockOwner | undefined;
  /** False when the holder is known dead or its heartbeat is older than staleMs. */
  alive: boolean;
}

const HOST = hostname();
/** Tokens of the leases this process holds: a lock with our pid but another token is a previous process's. */
const heldHere = new Set<string>();
const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_STALE_MS = 15_000;

/** Is this host's process `pid` alive? EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const { host, pid, token } = v as Record<string, unknown>;
    return typeof host === 'string' && typeof pid === 'number' && typeof token === 'string' ? { host, pid, token } : undefined;
  } catch {
    return undefined;
  }
}

/** Reads who holds the lock at `path`; undefined when there is no lock. */
export async function inspectLock(path: string, opts: LockOptions = {}): Promise<LockState | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
  const owner = parseOwner(text);
  const fresh = Date.now() - mtimeMs < (opts.staleMs ?? DEFAULT_STALE_MS);
  // A file still being written by its creator has no owner yet: alive while fresh.
  if (owner === undefined) return { owner, alive: fresh };
  if (owner.host === HOST) {
    // Same pid, token not ours: a process before us (a restarted container is pid 1 again).
    const dead = owner.pid === process.pid ? !heldHere.has(owner.token) : !pidAlive(owner.pid);
    if (dead) return { owner, alive: false };
  }
  return { owner, alive: fresh };
}

class FileLease implements Lease {
  private timer: NodeJS.Timeout | undefined;
  private active = true;

  constructor(
    readonly path: string,
    readonly owner: LockOwner,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => void this.beat(), heartbeatMs);
    this.timer.unref();
  }

  held(): boolean {
    return this.active;
  }

  private async beat(): Promise<void> {
    if (!this.active) return;
    const now = new Date();
    try {
      // Touch only while the file is still ours: a holder judged dead must not revive someone else's lock.
      if ((await readOwnerToken(this.path)) !== this.owner.token) return this.lost();
      await utimes(this.path, now, now);
    } catch {
      this.lost();
    }
  }

  private lost(): void {
    this.active = false;
    heldHere.delete(this.owner.token);
    clearInterval(this.timer);
  }

  async release(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    clearInterval(this.timer);
    // Moved aside first (atomic), so what is removed is exactly the file that held our token; a successor's
    // lock (this holder was judged dead) is put back. The token stays known as ours until the file is gone, so
    // no other holder in this process takes the lock for a predecessor's meanwhile.
    const aside = `${this.path}.${randomBytes(6).toString('hex')}.released`;
    try {
      await rename(this.path, aside);
      if ((await readOwnerToken(aside).catch(() => undefined)) !== this.owner.token) await link(aside, this.path).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
    } catch {
      // Gone already (taken over and released by a successor).
    } finally {
      heldHere.delete(this.owner.token);
    }
  }
}

async function readOwnerToken(path: string): Promise<string | undefined> {
  return parseOwner(await readFile(path, 'utf8'))?.token;
}

/**
 * Takes the lock if it is free or dead; undefined when a live holder has it. Never waits (callers that must wait
 * poll, or use `acquireLock`).
 */
export async function tryLock(path: string, opts: LockOptions = {}): Promise<Lease | undefined> {
  const owner: LockOwner = { host: HOST, pid: process.pid, token: randomBytes(8).toString('hex') };
  // Known as ours before the file exists, so no inspection in this process mistakes it for a predecessor's.
  heldHere.add(owner.token);
  let lease: Lease | undefined;
  try {
    lease = await claimFile(path, owner, opts);
    return lease;
  } finally {
    if (lease === undefined) heldHere.delete(owner.token);
  }
}

async function claimFile(path: string, owner: LockOwner, opts: LockOptions): Promise<Lease | undefined> {
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await mkdir(dirname(path), { recursive: true });
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(owner));
      } finally {
        await fh.close();
      }
      return new FileLease(path, owner, opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    } catch (err) {
      // The folder was tidied away between mkdir and open (a blob removal): try again.
      if (isErrno(err, 'ENOENT')) continue;
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const state = await inspectLock(path, opts);
    if (state === undefined) continue; // released meanwhile
    if (state.alive) return undefined;
    await takeAside(path, state.owner);
  }
  return undefined;
}

/**
 * Moves a dead lock out of the way. Rename is atomic: of several processes doing this at once one gets the file;
 * the others find nothing to move and race for the O_EXCL create, which only one wins.
 */
async function takeAside(path: string, dead: LockOwner | undefined): Promise<void> {
  const aside = `${path}.${randomBytes(6).toString('hex')}.dead`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  const moved = parseOwner(await readFile(aside, 'utf8').catch(() => ''));
  // Between our inspection and the rename a new holder may have created the lock: give it back (link never
  // replaces a lock someone created since).
  if (moved !== undefined && dead !== undefined && moved.token !== dead.token) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/** Waits up to `waitMs` for the lock (polling every `pollMs`); undefined when it stayed busy. */
export async function acquireLock(path: string, waitMs: number, opts: LockOptions & { pollMs?: number } = {}): Promise<Lease | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = await tryLock(path, opts);
    if (lease !== undefined || Date.now() >= deadline) return lease;
    await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 5 + Math.random() * 10));
  }
}
