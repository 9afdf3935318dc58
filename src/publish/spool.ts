/**
 * Spools the package of a push to a temp file. The NuGet client sends `multipart/form-data`, chunked, with no
 * Content-Length and a single part "package" (protocol.md §2.4); the docs say a server takes the first part
 * whatever its name, so every part counts as a file and only the first is kept. The body is never held in
 * memory (deps.md §2: busboy on the raw IncomingMessage).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyHeaders, type BusboyInstance } from '@fastify/busboy';

export interface SpooledFile {
  path: string;
  size: number;
}

export type SpoolResult =
  | { kind: 'ok'; file: SpooledFile }
  /** The file part, or the whole body, went over the cap; the rest of the body is unread. */
  | { kind: 'tooLarge' }
  | { kind: 'noFile' }
  | { kind: 'badBody'; message: string }
  /** The client went away before the body ended. */
  | { kind: 'aborted' }
  /** No byte came for `idleTimeout` ms; the rest of the body is unread. */
  | { kind: 'stalled' }
  /** Writing the temp file failed (disk full, permissions): our fault, not the client's. */
  | { kind: 'ioError'; message: string };

export interface SpoolOptions {
  dir: string;
  maxSize: number;
  /**
   * The longest pause allowed between two pieces of the body, ms (`publish.idleTimeout`). Without it a client
   * that sends a little and then waits holds its connection and temp file until Node's request timeout.
   */
  idleTimeout: number;
}

/** Multipart framing around the file: boundaries and part headers, never more than this in practice. */
const FRAMING_ALLOWANCE = 1024 * 1024;

/**
 * Streams the first part of a multipart body into a new file under `dir`. On any result other than `ok`
 * the temp file is already gone; on `ok` the caller owns it and must remove it.
 */
export async function spoolFirstPart(incoming: IncomingMessage, options: SpoolOptions): Promise<SpoolResult> {
  const contentType = incoming.headers['content-type'];
  if (contentType === undefined || !/^multipart\/form-data\s*;/i.test(contentType)) {
    return { kind: 'badBody', message: 'expected a multipart/form-data body with the package as its first part' };
  }
  let parser: BusboyInstance;
  try {
    const headers: BusboyHeaders = { ...incoming.headers, 'content-type': contentType };
    parser = Busboy({ headers, isPartAFile: () => true, limits: { files: 1, fileSize: options.maxSize, headerPairs: 100 } });
  } catch (err) {
    return { kind: 'badBody', message: `bad multipart body: ${(err as Error).message}` };
  }
  await mkdir(options.dir, { recursive: true });
  const path = join(options.dir, `push-${randomUUID()}.tmp`);
  let out: WriteStream | undefined;
  const result = await new Promise<SpoolResult>((resolve) => {
    let settled = false;
    let fileSeen = false;
    let fileWritten: number | undefined;
    let parserFinished = false;
    let received = 0;

    // Started before the first byte: a client that sends headers and then nothing is stalled too.
    const idle = setTimeout(() => settle({ kind: 'stalled' }), options.idleTimeout);
    idle.unref();

    const settle = (r: SpoolResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      incoming.off('data', count);
      incoming.off('close', onClose);
      if (r.kind !== 'ok') {
        incoming.unpipe(parser);
        parser.destroy();
        out?.destroy();
      }
      resolve(r);
    };
    const maybeDone = (): void => {
      if (!parserFinished) return;
      if (!fileSeen) settle({ kind: 'noFile' });
      else if (fileWritten !== undefined) settle({ kind: 'ok', file: { path, size: fileWritten } });
    };
    // Parts after the first are read and thrown away; bound the whole body, not only the file.
    const count = (chunk: Buffer): void => {
      idle.refresh();
      received += chunk.length;
      if (received > options.maxSize + FRAMING_ALLOWANCE) settle({ kind: 'tooLarge' });
    };
    const onClose = (): void => {
      if (!incoming.complete) settle({ kind: 'aborted' });
    };

    parser.on('file', (_field, stream) => {
      if (fileSeen || settled) {
        stream.resume();
        return;
      }
      fileSeen = true;
      stream.on('limit', () => settle({ kind: 'tooLarge' }));
      const file = createWriteStream(path, { flags: 'wx' });
      out = file;
      pipeline(stream, file).then(
        () => {
          if (stream.truncated) return settle({ kind: 'tooLarge' });
          fileWritten = file.bytesWritten;
          maybeDone();
        },
        (err: NodeJS.ErrnoException) =>
          settle(typeof err.syscall === 'string' ? { kind: 'ioError', message: err.message } : { kind: 'badBody', message: `bad multipart body: ${err.message}` }),
      );
    });
    parser.on('finish', () => {
      parserFinished = true;
      maybeDone();
    });
    parser.on('error', (err: unknown) => settle({ kind: 'badBody', message: `bad multipart body: ${(err as Error).message}` }));
    incoming.on('data', count);
    incoming.on('close', onClose);
    incoming.pipe(parser);
  });
  if (result.kind !== 'ok') {
    // Wait for the fd to close first: a late open() would otherwise re-create the file after rm. Only 'close'
    // counts: a write cut short by destroy() also emits 'error' (ERR_STREAM_DESTROYED), which is expected here.
    const file = out;
    if (file !== undefined && !file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
    await rm(path, { force: true });
  }
  return result;
}
