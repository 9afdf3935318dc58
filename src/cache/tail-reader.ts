/**
 * A Readable that follows a download as it is written to disk. Every client of a coalesced download gets
 * one: each reads the temp file at its own pace (a slow client never slows the download or the others, and
 * nothing is buffered in memory for it), waits when it has caught up, ends when the download is complete and
 * verified, and is destroyed with the download's error if it fails — so a failed download reaches the client
 * as a truncated response, never as a complete-looking corrupt one.
 */
import { Readable } from 'node:stream';

/** What a TailReader needs from the download it follows. */
export interface TailSource {
  /** Bytes a reader may have now. */
  readable(): number;
  /** True once every byte is written and verified. */
  complete(): boolean;
  /** The error, once the download has failed. */
  failure(): Error | undefined;
  readAt(buf: Buffer, position: number): Promise<number>;
  /** Resolves at the next change (bytes written, completion, failure). */
  changed(): Promise<void>;
  /** Keeps the file open while this reader needs it. */
  acquire(): void;
  release(): void;
}

const CHUNK = 64 * 1024;

export class TailReader extends Readable {
  private readonly source: TailSource;
  private position = 0;
  private released = false;

  constructor(source: TailSource) {
    super({ highWaterMark: CHUNK });
    this.source = source;
    source.acquire();
  }

  override _read(size: number): void {
    void this.pull(Math.max(1, Math.min(size, CHUNK)));
  }

  private async pull(size: number): Promise<void> {
    for (;;) {
      if (this.destroyed) return;
      const failure = this.source.failure();
      if (failure !== undefined) {
        this.destroy(failure);
        return;
      }
      const available = this.source.readable() - this.position;
      if (available > 0) {
        const buf = Buffer.allocUnsafe(Math.min(size, available));
        let n: number;
        try {
          n = await this.source.readAt(buf, this.position);
        } catch (err) {
          this.destroy(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (this.destroyed) return;
        if (n === 0) {
          this.destroy(new Error('blob download: file shorter than the bytes written'));
          return;
        }
        this.position += n;
        this.push(n === buf.length ? buf : buf.subarray(0, n));
        return;
      }
      if (this.source.complete()) {
        this.push(null);
        return;
      }
      await this.source.changed();
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.released) {
      this.released = true;
      this.source.release();
    }
    callback(err);
  }
}
