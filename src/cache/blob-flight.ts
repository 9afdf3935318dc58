/**
 * One coalesced blob request (style.md rule 9): every concurrent `get` of a key joins the same flight, which
 * looks the blob up once and, on a miss, calls the loader once. The download is written to a temp file while
 * every client streams it through its own TailReader (none waits for the whole file); it is verified, committed
 * and indexed before the readers may see the last byte. The newest bytes are also held in memory (a bounded
 * window): writes go to the file in batches, and readers that keep up with the download (nearly all of them)
 * copy from memory instead of reading the file back; only a reader that falls behind the window reads the file.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { UpstreamError } from '../errors.ts';
import { closeBlobBody } from './blob-body.ts';
import { NO_LEASE, type BlobClaims } from './blob-claims.ts';
import type { BlobStore, TempBlob } from './blob-fs.ts';
import type { Lease } from './file-lock.ts';
import { TailReader, type TailSource } from './tail-reader.ts';
import type { BlobKey, BlobLoader, BlobResult, UpstreamBody } from './types.ts';
import type { DownloadFacts } from './verify.ts';
import { sniffNuspec, type NuspecSniffer } from '../nuget/nuspec-sniff.ts';

export interface CompletedDownload {
  key: BlobKey;
  size: number;
  sha512: string;
  contentType: string;
}

export interface FlightDeps {
  key: BlobKey;
  store: BlobStore;
  /** The stored blob, if any (hot tier already checked by the caller). */
  lookup(): Promise<BlobResult | undefined>;
  /** Undefined when offline: only stored blobs are served. */
  loader: BlobLoader | undefined;
  /**
   * Who downloads among the processes sharing the folder (blob-claims.ts): the loader runs only under a claim;
   * without one the flight waits for the holder to finish (then serves the stored blob) or to die (then claims).
   */
  claims: BlobClaims;
  verify(facts: DownloadFacts): Promise<void>;
  /** False when the id was evicted meanwhile: serve the bytes, keep nothing. */
  shouldKeep(): boolean;
  /** Indexes a committed blob. Must not throw: the bytes are good even if the index write fails. */
  index(done: CompletedDownload): Promise<void>;
  contentType(upstreamType: string | undefined): string;
  /** Downloads larger than this fail (limits.packageSize: a bound on disk use per download; style.md rule 11). */
  maxBytes: number;
  /** Called exactly once, synchronously with the flight's end: remove it from the map of flights. */
  onEnd(): void;
  /** Told about a failed lookup, load or download (for the log). */
  onFailure(err: Error, phase: 'before download' | 'during download'): void;
}

/** Bytes written to the temp file at once (fewer, larger writes: each is a thread-pool round trip). */
const WRITE_BATCH = 256 * 1024;
/** Bytes already on disk kept in memory for readers just behind the download. */
const KEEP_BEHIND = 256 * 1024;

interface Waiter {
  resolve(result: BlobResult | undefined): void;
  reject(err: unknown): void;
}

type Phase = 'resolving' | 'streaming' | 'done' | 'failed';

export class BlobFlight implements TailSource {
  private readonly deps: FlightDeps;
  private phase: Phase = 'resolving';
  private waiters: Waiter[] = [];
  private temp: TempBlob | undefined;
  private upstream: UpstreamBody | undefined;
  /** Bytes received (hashed, and in memory or on disk). */
  private written = 0;
  /** Bytes on disk: [durable, written) is only in `recent`. */
  private durable = 0;
  /** The newest bytes, in order, covering [recentStart, written). */
  private recent: Buffer[] = [];
  private recentStart = 0;
  /** A package's nuspec, looked for in its first bytes so warming need not wait for the rest (nuspec-sniff.ts). */
  private readonly sniffer: NuspecSniffer | undefined;
  private error: Error | undefined;
  /** The flight's own reference plus one per live reader; the file closes at zero. */
  private refs = 1;
  private wake: () => void = () => undefined;
  private next: Promise<void>;
  private contentType = 'application/octet-stream';
  private abortReason: Error | undefined;
  /** Resolves when the flight is over and its temp file handled. */
  readonly ended: Promise<void>;

  constructor(deps: FlightDeps) {
    this.deps = deps;
    this.sniffer = deps.key.file === 'nupkg' ? sniffNuspec() : undefined;
    this.next = this.newChangePromise();
    this.ended = this.run();
  }

  get key(): BlobKey {
    return this.deps.key;
  }

  /** A result for one more client: the stored blob, a stream of the download, or undefined (not found). */
  join(): Promise<BlobResult | undefined> {
    if (this.phase === 'streaming') return Promise.resolve(this.streamResult());
    if (this.phase === 'resolving') {
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    // The flight left the map in the same step that ended it, so callers never get here.
    return Promise.reject(new Error('blob flight already ended'));
  }

  /** Stops the download (cache closing): clients see a truncated body, nothing is kept. */
  abort(reason: Error): void {
    if (this.phase === 'done' || this.phase === 'failed') return;
    this.abortReason = reason;
    this.upstream?.stream.destroy(reason);
  }

  // --- TailSource -------------------------------------------------------------------------------------
  readable(): number {
    // Hold back the last byte until the download is verified and committed: a reader can only finish once
    // the blob is known good (a failure after that point still errors every stream).
    return this.phase === 'done' ? this.written : Math.max(0, this.written - 1);
  }

  complete(): boolean {
    return this.phase === 'done';
  }

  failure(): Error | undefined {
    return this.phase === 'failed' ? this.error : undefined;
  }

  readAt(buf: Buffer, position: number): Promise<number> {
    if (position >= this.recentStart) return Promise.resolve(this.copyRecent(buf, position));
    if (this.temp === undefined) return Promise.resolve(0);
    // Everything before the window is on disk.
    return this.temp.read(buf.length <= this.recentStart - position ? buf : buf.subarray(0, this.recentStart - position), position);
  }

  /** Copies from the in-memory window, from `position` on; returns the number of bytes copied. */
  private copyRecent(buf: Buffer, position: number): number {
    let at = this.recentStart;
    let copied = 0;
    for (const chunk of this.recent) {
      const end = at + chunk.length;
      if (end > position + copied) {
        const from = position + copied - at;
        copied += chunk.copy(buf, copied, from, Math.min(chunk.length, from + buf.length - copied));
        if (copied === buf.length) break;
      }
      at = end;
    }
    return copied;
  }

  changed(): Promise<void> {
    return this.next;
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    this.refs--;
    if (this.refs === 0) void this.temp?.close().catch(() => undefined);
  }
  // -----------------------------------------------------------------------------------------------------

  private newChangePromise(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.next = this.newChangePromise();
    wake();
  }

  private streamResult(): BlobResult {
    const result: BlobResult = {
      body: { kind: 'stream', stream: new TailReader(this) },
      contentType: this.contentType,
      state: 'MISS',
      settled: this.ended.then(() => this.phase === 'done'),
    };
    if (this.sniffer !== undefined) result.nuspec = this.sniffer.nuspec;
    if (this.upstream?.length !== undefined) result.size = this.upstream.length;
    return result;
  }

  /** Settles every waiting client with the same answer (a hit, or not found). */
  private answerWaiters(result: BlobResult | undefined): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(result);
  }

  /**
   * Answers every waiter with the stored blob. A file body's open handle belongs to one reader, so each
   * further waiter gets a lookup (and a handle) of its own; a buffer is shared.
   */
  private answerStored(hit: BlobResult): void {
    const [first, ...rest] = this.waiters;
    this.waiters = [];
    if (first === undefined) {
      void closeBlobBody(hit.body);
      return;
    }
    first.resolve(hit);
    for (const w of rest) {
      if (hit.body.kind === 'buffer') w.resolve(hit);
      else this.deps.lookup().then(w.resolve, w.reject);
    }
  }

  /**
   * The stored blob, or the claim to download it: looks up, claims, looks up once more (the previous holder may
   * have just finished), and while another live process holds the claim, waits for it.
   */
  private async resolveOrClaim(loader: BlobLoader | undefined): Promise<{ hit: BlobResult | undefined } | { claim: Lease }> {
    let claim: Lease | undefined;
    for (;;) {
      const hit = await this.deps.lookup();
      if (hit !== undefined || loader === undefined) {
        await claim?.release();
        return { hit };
      }
      if (claim !== undefined) return { claim };
      claim = await this.deps.claims.claim(this.deps.key).catch((err: unknown) => {
        // A lock file that cannot be made or read: download without coordination rather than not at all.
        this.deps.onFailure(err instanceof Error ? err : new Error(String(err)), 'before download');
        return NO_LEASE;
      });
      if (claim !== undefined) continue;
      await this.deps.claims.waitFree(this.deps.key, () => this.abortReason !== undefined);
      if (this.abortReason !== undefined) throw this.abortReason;
    }
  }

  private async run(): Promise<void> {
    let claim: Lease | undefined;
    try {
      const resolved = await this.resolveOrClaim(this.deps.loader);
      if ('hit' in resolved || this.deps.loader === undefined) {
        const hit = 'hit' in resolved ? resolved.hit : undefined;
        this.end('done');
        if (hit === undefined) this.answerWaiters(undefined);
        else this.answerStored(hit);
        return;
      }
      claim = resolved.claim;
      const body = await this.deps.loader();
      if (body === 'notFound') {
        this.end('done');
        this.answerWaiters(undefined);
        return;
      }
      this.upstream = body;
      if (this.abortReason !== undefined) throw this.abortReason;
      // Refused before a byte is written when the upstream announces it; counted while streaming otherwise.
      if (body.length !== undefined && body.length > this.deps.maxBytes) throw this.tooLarge();
      this.temp = await this.deps.store.begin(this.deps.key);
      this.contentType = this.deps.contentType(body.contentType);
      this.phase = 'streaming';
      // Every client so far gets its reader now, in the same step (the file is open, nobody waits).
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve(this.streamResult());

      const sha512 = await this.pump(body.stream, body.length);
      const facts: DownloadFacts = { key: this.deps.key, path: this.temp.path, size: this.written, sha512 };
      if (body.length !== undefined) facts.expectedLength = body.length;
      if (body.sha512 !== undefined) facts.expectedSha512 = body.sha512;
      // The fsync overlaps verification: the client's last byte waits for the longer of the two, not their sum.
      const flushed = this.temp.flush();
      flushed.catch(() => undefined);
      await this.deps.verify(facts);
      await flushed;
      if (this.abortReason !== undefined) throw this.abortReason;
      if (this.deps.shouldKeep()) {
        await this.temp.commit();
        await this.deps.index({ key: this.deps.key, size: this.written, sha512, contentType: this.contentType });
      } else {
        await this.temp.abort();
      }
      // After the index write: a process waiting for the claim finds the blob stored once the claim is gone.
      await claim.release().catch(() => undefined);
      this.end('done');
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err));
      this.deps.onFailure(this.error, this.temp === undefined ? 'before download' : 'during download');
      this.upstream?.stream.destroy();
      // Never indexed; the temp file goes (the readers keep their open handle until they are destroyed), then
      // the claim, so another process may try (in that order: no leftovers once this flight's clients know).
      await this.temp?.abort().catch(() => undefined);
      await claim?.release().catch(() => undefined);
      this.end('failed');
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.reject(this.error);
    } finally {
      // Every other way out (not found upstream): release() is idempotent.
      await claim?.release().catch(() => undefined);
    }
  }

  /** Phase change, map removal and the flight's own reference: one synchronous step. */
  private end(phase: 'done' | 'failed'): void {
    this.phase = phase;
    // Every byte is on disk (or the download failed): readers still going read the file from here on.
    this.recent = [];
    this.recentStart = this.durable;
    this.deps.onEnd();
    this.notify();
    this.release();
  }

  private tooLarge(): UpstreamError {
    return new UpstreamError(this.deps.key.upstream, `${this.deps.key.file} larger than limits.packageSize (${this.deps.maxBytes} bytes)`);
  }

  /** Copies the upstream body into the temp file, honoring backpressure; returns its SHA-512 (base64). */
  private async pump(stream: Readable, length: number | undefined): Promise<string> {
    const temp = this.temp;
    if (temp === undefined) throw new Error('blob download: no temp file');
    try {
      return await this.pumpInto(temp, stream, length);
    } finally {
      this.sniffer?.end();
    }
  }

  private async pumpInto(temp: TempBlob, stream: Readable, length: number | undefined): Promise<string> {
    const hash = createHash('sha512');
    // for-await pauses the upstream while a write is pending, and destroys it if we stop early.
    for await (const chunk of stream) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      if (length !== undefined && this.written + buf.length > length) {
        throw new UpstreamError(this.deps.key.upstream, `sent more than its Content-Length of ${length} bytes`);
      }
      if (this.written + buf.length > this.deps.maxBytes) throw this.tooLarge();
      hash.update(buf);
      this.sniffer?.push(buf);
      this.recent.push(buf);
      this.written += buf.length;
      this.notify();
      // for-await pulls the next chunk only after this: the upstream waits while a batch is written.
      if (this.written - this.durable >= WRITE_BATCH) await this.writeBatch(temp);
    }
    await this.writeBatch(temp);
    if (this.abortReason !== undefined) throw this.abortReason;
    return hash.digest('base64');
  }

  /** Writes what is only in memory to the file, then lets the window forget what readers are past. */
  private async writeBatch(temp: TempBlob): Promise<void> {
    const unwritten: Buffer[] = [];
    let at = this.written;
    for (let i = this.recent.length - 1; i >= 0 && at > this.durable; i--) {
      const chunk = this.recent[i];
      if (chunk === undefined) break;
      unwritten.unshift(at - chunk.length >= this.durable ? chunk : chunk.subarray(this.durable - (at - chunk.length)));
      at -= chunk.length;
    }
    if (unwritten.length === 0) return;
    const data = unwritten.length === 1 && unwritten[0] !== undefined ? unwritten[0] : Buffer.concat(unwritten);
    await temp.write(data, this.durable);
    this.durable += data.length;
    for (let first = this.recent[0]; first !== undefined && this.recentStart + first.length <= this.durable && this.written - (this.recentStart + first.length) >= KEEP_BEHIND; first = this.recent[0]) {
      this.recent.shift();
      this.recentStart += first.length;
    }
  }
}
