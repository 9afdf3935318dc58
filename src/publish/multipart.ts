/**
 * The body nugate sends upstream on push: a fresh multipart/form-data with one part, shaped like the NuGet
 * client's own (PackageUpdateResource: name="package", filename="package.nupkg", application/octet-stream;
 * protocol.md §2.4). Unlike the client we know the size, so we send a Content-Length: some feeds reject
 * or mishandle chunked uploads, and an exact length lets undici catch a short file.
 */
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface MultipartBody {
  body: Readable;
  contentType: string;
  contentLength: number;
}

/** Streams `path` (of `size` bytes) wrapped in multipart framing; the file bytes pass through untouched. */
export function multipartFromFile(path: string, size: number): MultipartBody {
  // RFC 2046 §5.1.1: the boundary must not occur in the content; 32 random hex digits make that negligible.
  const boundary = `nugate-${randomBytes(16).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\n` +
      'Content-Disposition: form-data; name="package"; filename="package.nupkg"\r\n' +
      'Content-Type: application/octet-stream\r\n\r\n',
    'latin1',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  async function* parts(): AsyncGenerator<Buffer> {
    yield head;
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
    yield tail;
  }
  return {
    body: Readable.from(parts(), { objectMode: false }),
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: head.length + size + tail.length,
  };
}
