/**
 * Consuming a BlobBody (types.ts). A file body carries an open handle, so every path that receives one must
 * either stream it (the stream closes the handle when it ends, fails or is destroyed) or close it.
 */
import { Readable } from 'node:stream';
import type { BlobBody } from './types.ts';

/** Chunk size for streaming a stored file to a client. */
const FILE_CHUNK = 256 * 1024;

/** A readable of the whole body. For a file body the handle now belongs to the stream (closed with it). */
export function blobBodyStream(body: BlobBody): Readable {
  switch (body.kind) {
    case 'buffer':
      return Readable.from([body.data], { objectMode: false });
    case 'file':
      // start: 0 reads by position, so nothing depends on the handle's file offset.
      return body.handle.createReadStream({ start: 0, highWaterMark: FILE_CHUNK, autoClose: true });
    case 'stream':
      return body.stream;
  }
}

/** Releases a body that will not be read (HEAD, 304, an error before sending). */
export async function closeBlobBody(body: BlobBody): Promise<void> {
  if (body.kind === 'file') await body.handle.close().catch(() => undefined);
  else if (body.kind === 'stream') body.stream.destroy();
}

/** Reads a whole body into memory: for small files only (a nuspec inside the cache, tests). */
export async function readBlobBody(body: BlobBody): Promise<Buffer> {
  if (body.kind === 'buffer') return body.data;
  const chunks: Buffer[] = [];
  for await (const chunk of blobBodyStream(body)) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}
