/**
 * Links to upstream documents nugate does not model (vulnerability pages, catalog entries). A canonical document
 * names them as `{feed}raw/{upstream}/{token}`; the token carries the path below one of the upstream's resource
 * bases plus a MAC, so nugate only ever fetches a URL that one of the upstream's own documents named: a client
 * cannot choose a path, a query or a base (publish endpoints are never bases), and cannot forge a token.
 *
 * The MAC key lives in `{cache.dir}/link.key`, shared by every process on that folder, so links in stored documents
 * stay valid across restarts and workers.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile, mkdir, link, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isErrno } from '../cache/fs-util.ts';

const KEY_BYTES = 32;
const MAC_CHARS = 22;

export interface LinkSigner {
  /** Token for the document at `rest` (path and query after the base) under base number `slot`. */
  sign(upstream: string, slot: number, rest: string): string;
  /** The slot and rest a token names, or undefined for a token nugate did not make. */
  verify(upstream: string, token: string): { slot: number; rest: string } | undefined;
}

/** MACs already computed: the same links recur in every document that names them (bounded, memory only). */
const MACS_MAX = 20_000;

export function createLinkSigner(key: Buffer): LinkSigner {
  const macs = new Map<string, string>();
  const mac = (upstream: string, body: string): string => {
    const text = `${upstream}\u0000${body}`;
    let m = macs.get(text);
    if (m === undefined) {
      m = createHmac('sha256', key).update(text).digest('base64url').slice(0, MAC_CHARS);
      if (macs.size >= MACS_MAX) macs.clear();
      macs.set(text, m);
    }
    return m;
  };
  return {
    sign(upstream, slot, rest) {
      const body = `${slot}.${Buffer.from(rest, 'utf8').toString('base64url')}`;
      return `${body}.${mac(upstream, body)}`;
    },
    verify(upstream, token) {
      const m = /^(\d{1,3})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)$/.exec(token);
      if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
      const body = `${m[1]}.${m[2]}`;
      const expected = Buffer.from(mac(upstream, body));
      const given = Buffer.from(m[3]);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
      return { slot: Number(m[1]), rest: Buffer.from(m[2], 'base64url').toString('utf8') };
    },
  };
}

/**
 * Reads the link key of a cache folder, creating it on first use. The key is written to a temp file and hard-linked
 * into place, so a concurrent reader never sees a half-written key and exactly one process's key wins.
 */
export async function loadLinkKey(path: string): Promise<Buffer> {
  try {
    const existing = await readFile(path);
    if (existing.length === KEY_BYTES) return existing;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, randomBytes(KEY_BYTES), { mode: 0o600 });
  try {
    await link(temp, path);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) throw new Error(`${path} is not a nugate link key (${key.length} bytes)`);
  return key;
}
