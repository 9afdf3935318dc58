/**
 * An HTTP upstream on 127.0.0.1, port 0, that misbehaves on purpose: decompression bombs, bodies that drip or
 * stall, lying Content-Length, redirects anywhere. Each path gets a handler; every request is recorded with its
 * headers so a test can count what reached the upstream and what it carried.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Transform } from 'node:stream';
import { constants, createBrotliCompress, createDeflate, createGzip } from 'node:zlib';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HostileUpstream {
  /** e.g. http://127.0.0.1:1234 */
  origin: string;
  url(path: string): string;
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
  /** Requests whose path starts with `path`. */
  count(path: string): number;
  route(path: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startHostileUpstream(): Promise<HostileUpstream> {
  const routes = new Map<string, Handler>();
  const requests: HostileUpstream['requests'] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, headers: req.headers });
    const handler = routes.get(path.split('?')[0] ?? path);
    if (handler) handler(req, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('no such route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    requests,
    count: (path) => requests.filter((r) => r.path.startsWith(path)).length,
    route: (path, handler) => void routes.set(path, handler),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JSON answer, optionally encoded. */
export function json(body: unknown, opts: { status?: number; headers?: Record<string, string> } = {}): Handler {
  const bytes = Buffer.from(JSON.stringify(body));
  return (_req, res) => {
    res.writeHead(opts.status ?? 200, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...opts.headers });
    res.end(bytes);
  };
}

/** Bytes as they are, with the given headers. */
export function raw(body: Buffer, headers: Record<string, string> = {}, status = 200): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-length': String(body.length), ...headers });
    res.end(body);
  };
}

export type BombEncoding = 'gzip' | 'deflate' | 'br';

const bombs = new Map<string, Promise<Buffer>>();

/**
 * `inflated` zero bytes, compressed with `encoding`, built as a stream so the test process never holds the
 * inflated size (200 MB of zeros is about 200 KB of gzip).
 */
export function bombBytes(encoding: BombEncoding, inflated: number): Promise<Buffer> {
  const key = `${encoding}:${inflated}`;
  let made = bombs.get(key);
  if (made === undefined) {
    made = compressZeros(encoding, inflated);
    bombs.set(key, made);
  }
  return made;
}

async function compressZeros(encoding: BombEncoding, inflated: number): Promise<Buffer> {
  const z: Transform =
    encoding === 'gzip'
      ? createGzip({ level: 9 })
      : encoding === 'deflate'
        ? createDeflate({ level: 9 })
        : createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const chunks: Buffer[] = [];
  z.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    z.once('end', resolve);
    z.once('error', reject);
  });
  const zeros = Buffer.alloc(1 << 20);
  for (let left = inflated; left > 0; left -= zeros.length) {
    if (!z.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await new Promise((resolve) => z.once('drain', resolve));
  }
  z.end();
  await ended;
  return Buffer.concat(chunks);
}

/** A decompression bomb sent with `Content-Encoding: <encoding>` and a truthful (compressed) Content-Length. */
export async function bomb(encoding: BombEncoding, inflated: number, contentType = 'application/json'): Promise<Handler> {
  return raw(await bombBytes(encoding, inflated), { 'content-type': contentType, 'content-encoding': encoding });
}

/** Headers at once, then one byte every `everyMs`, forever (until the client goes away). */
export function drip(everyMs: number, contentType = 'application/json'): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': String(1_000_000) });
    res.write('[');
    const timer = setInterval(() => res.write(' '), everyMs);
    res.once('close', () => clearInterval(timer));
  };
}

/**
 * `chunks` chunks of `chunkBytes` bytes, one every `everyMs` (a slow but live link), with an optional long pause
 * after the first chunk (a stall).
 */
export function paced(opts: { chunkBytes: number; chunks: number; everyMs: number; pauseAfterFirstMs?: number }): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(opts.chunkBytes * opts.chunks) });
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const next = (): void => {
      res.write(Buffer.alloc(opts.chunkBytes, sent % 251));
      sent++;
      if (sent === opts.chunks) {
        res.end();
        return;
      }
      timer = setTimeout(next, sent === 1 && opts.pauseAfterFirstMs !== undefined ? opts.pauseAfterFirstMs : opts.everyMs);
    };
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

/** Declares `declared` bytes, sends `body`, then closes the connection. */
export function lyingLength(body: Buffer, declared: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(declared) });
    res.write(body);
    setTimeout(() => res.socket?.destroy(), 20);
  };
}

export function redirect(location: string, status = 302): Handler {
  return (_req, res) => {
    res.writeHead(status, { location, 'content-length': '0' });
    res.end();
  };
}
