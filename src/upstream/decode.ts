/**
 * Content-Encoding removal for upstream bodies, always streamed (a synchronous inflate of a small gzip bomb once
 * took RSS to 3 GB), and the meter that bounds what comes out of it.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

export type Encoding = 'identity' | 'gzip' | 'deflate' | 'br';

/**
 * The coding named by a Content-Encoding header, or undefined when nugate cannot remove it.
 * https://www.rfc-editor.org/rfc/rfc9110#section-8.4.1 (x-gzip is gzip, §8.4.1.3).
 */
export function parseEncoding(header: string | undefined): Encoding | undefined {
  const enc = (header ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return 'identity';
  if (enc === 'gzip' || enc === 'x-gzip') return 'gzip';
  if (enc === 'deflate') return 'deflate';
  if (enc === 'br') return 'br';
  return undefined;
}

/** A streaming decoder for `encoding`, or undefined for identity. zlib streams honour backpressure. */
export function createDecoder(encoding: Encoding): Transform | undefined {
  switch (encoding) {
    case 'identity':
      return undefined;
    case 'gzip':
      return createGunzip();
    // RFC 9110 §8.4.1.2: "deflate" is the zlib format (RFC 1950).
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
  }
}

export interface MeterLimits {
  /** Decoded bytes allowed in total. */
  maxBytes: number;
  /**
   * When set, the decoded size may not exceed `factor` × the encoded bytes read so far + `slack`: for bodies that
   * are already compressed (a .nupkg is a zip), a high ratio can only be a decompression bomb.
   */
  ratio?: { factor: number; slack: number; encodedBytes: () => number };
  /** Builds the error the stream is destroyed with when a limit is passed. */
  tooLarge: (what: 'size' | 'ratio') => Error;
}

/** Counts decoded bytes and fails the moment a limit is passed, before the chunk goes further. */
export class DecodedMeter extends Transform {
  decoded = 0;
  private readonly limits: MeterLimits;

  constructor(limits: MeterLimits) {
    super();
    this.limits = limits;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.decoded += chunk.length;
    if (this.decoded > this.limits.maxBytes) {
      callback(this.limits.tooLarge('size'));
      return;
    }
    const ratio = this.limits.ratio;
    if (ratio && this.decoded > ratio.factor * ratio.encodedBytes() + ratio.slack) {
      callback(this.limits.tooLarge('ratio'));
      return;
    }
    callback(null, chunk);
  }
}
