/**
 * The current index of a folder (scan.ts), kept up to date: a first scan at start, a periodic rescan, and
 * rescans on demand (a publish, an invalidate, a version a client asks for that the index lacks). Readers always
 * get a complete index: a scan builds a new one and swaps it in when done, and a failed scan keeps the previous one.
 * Scans never overlap; a rescan asked for while one runs is queued once and shared by everyone who asked.
 *
 * Several processes serving one folder (workers, instances sharing the volume: issue 10) learn of each other's
 * pushes, unlists and relists through a stamp file in the folder (`.nugate-changed`, rewritten by every change
 * publish.ts makes): before answering, `current()` compares it with what the last scan saw (one stat) and rescans
 * first when it changed, so a package pushed through one process is listed by all on their next request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../../cache/clock.ts';
import { EMPTY_INDEX, FolderScanner, type FolderIndex } from './scan.ts';

/** The stamp file; a dot name, so the scan never reads it as a package. */
export const CHANGE_STAMP = '.nugate-changed';

/** Tells every process serving the folder that it changed (temp file + rename: a new inode every time). */
export async function markChanged(root: string): Promise<void> {
  const tmp = join(root, `${CHANGE_STAMP}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, `${Date.now()} ${randomBytes(6).toString('hex')}\n`);
  await rename(tmp, join(root, CHANGE_STAMP));
}

/** Identity of the stamp as it is now; '' when there is none. */
async function stampOf(root: string): Promise<string> {
  try {
    const s = await stat(join(root, CHANGE_STAMP), { bigint: true });
    return `${s.ino}:${s.mtimeNs}:${s.size}`;
  } catch {
    return '';
  }
}

export interface LiveIndexOptions {
  /** The folder's real path (symbolic links resolved). */
  root: string;
  log: Logger;
  /** Milliseconds between periodic rescans; 0 = only on demand. */
  rescanMs: number;
  clock: Clock;
}

export class LiveIndex {
  private readonly root: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly scanner: FolderScanner;
  private index: FolderIndex = EMPTY_INDEX;
  /** Identity of the last index (ids, versions, files, listing): a rescan that changed nothing is logged at debug. */
  private fingerprint: string | undefined;
  /** When the last finished scan started (clock time): what it saw is at least this recent. */
  private scannedFrom = Number.NEGATIVE_INFINITY;
  /** The change stamp as the last finished scan saw it before it began. */
  private scannedStamp = '';
  private active: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly firstScan: Promise<void>;

  constructor(opts: LiveIndexOptions) {
    this.root = opts.root;
    this.log = opts.log;
    this.clock = opts.clock;
    this.scanner = new FolderScanner(opts.root, opts.log);
    this.firstScan = this.rescan();
    if (opts.rescanMs > 0) {
      this.timer = setInterval(() => {
        // A slow scan is not stacked up behind itself.
        if (this.active === undefined) void this.rescan();
      }, opts.rescanMs);
      this.timer.unref();
    }
  }

  /** The index as of now, once the first scan has finished, and after a rescan when another process changed it. */
  async current(): Promise<FolderIndex> {
    await this.firstScan;
    if ((await stampOf(this.root)) !== this.scannedStamp) await this.rescan();
    return this.index;
  }

  /** Scans the folder again; resolves when a scan that started after this call has finished. Never rejects. */
  rescan(): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    if (this.active === undefined) return this.start();
    const queued = this.active.then(() => {
      this.queued = undefined;
      return this.start();
    });
    this.queued = queued;
    return queued;
  }

  /**
   * Rescans unless the current index comes from a scan that started less than `minAgeMs` ago. For lookups that
   * miss: a file copied in since the last scan shows up at once, while a stream of misses (random versions)
   * costs at most one folder walk per `minAgeMs`.
   */
  async refresh(minAgeMs: number): Promise<FolderIndex> {
    await this.firstScan;
    if (this.clock.now() - this.scannedFrom >= minAgeMs) await this.rescan();
    return this.index;
  }

  /** Stops the periodic rescan and waits for a running scan to stop. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await (this.queued ?? this.active);
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.scanOnce().finally(() => {
      if (this.active === run) this.active = undefined;
    });
    this.active = run;
    return run;
  }

  private async scanOnce(): Promise<void> {
    if (this.closed) return;
    const startedAt = this.clock.now();
    const started = performance.now();
    // Read before the walk: a change made while it runs shows as a new stamp and is picked up next time.
    const stamp = await stampOf(this.root);
    try {
      const next = await this.scanner.scan(this.index, () => this.closed);
      if (this.closed) return;
      let packages = 0;
      const keys: string[] = [];
      for (const list of next.byId.values()) {
        packages += list.length;
        for (const p of list) keys.push(`${p.lowerId}/${p.lowerVersion}@${p.path}${p.listed ? '' : ' unlisted'}`);
      }
      const fingerprint = createHash('sha256').update(keys.join('\n')).digest('base64');
      const changed = fingerprint !== this.fingerprint;
      this.index = next;
      this.fingerprint = fingerprint;
      this.scannedFrom = startedAt;
      this.scannedStamp = stamp;
      const fields = { dir: this.root, ids: next.ids.length, packages, ms: Math.round(performance.now() - started) };
      if (changed) this.log.info(fields, 'folder upstream scanned');
      else this.log.debug(fields, 'folder upstream rescanned, no change');
    } catch (err) {
      this.log.warn({ dir: this.root, err: err instanceof Error ? err.message : String(err) }, 'folder upstream: scan failed, serving the previous index');
    }
  }
}
