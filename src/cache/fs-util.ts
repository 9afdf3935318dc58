/**
 * File-system helpers shared by every disk writer (the cache's stores, folder sources, the link key), so each rule
 * lives in one place: which errno means "not there", and how a rename is made durable.
 */
import { open, type FileHandle } from 'node:fs/promises';

/** The code of a Node system error (ENOENT, EACCES, ...); undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** True when `err` is a Node system error with one of these codes (ENOENT, ENOTDIR, EPERM, ...). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoOf(err);
  return code !== undefined && codes.includes(code);
}

/** Makes a rename durable (POSIX needs the directory fsync'd). Some file systems refuse; that is not fatal. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // e.g. EISDIR/EINVAL on file systems without directory fsync.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
