/**
 * A fake NuGet publish endpoint (PackagePublish/2.0.0) on 127.0.0.1, port 0. It behaves like nuget.org where
 * it matters to a proxy (protocol.md §2.4): PUT {publish}/ takes a multipart body whose single part is the
 * package and answers 201 (optionally with X-NuGet-Warning lines and a custom reason phrase), 409 for a
 * duplicate; DELETE/POST {publish}/{id}/{version} answer 200 or 404; 401 without a key, 403 with a wrong one.
 * Every request is recorded with its raw headers and body, so tests can search them for leaked secrets.
 */
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readManifestFromBuffer } from '../../src/nuget/nupkg.ts';
import { normalizeVersionString } from '../../src/nuget/version.ts';

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as received. */
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface CannedAnswer {
  status: number;
  reason?: string;
  body?: string;
}

export interface FakePublishOptions {
  /** The key the fake accepts; undefined = any key, and none is fine too. */
  apiKey?: string;
  /** Sent with every 201, one header line each. */
  warnings?: string[];
  /** Reason phrase of the 201. */
  createdReason?: string;
}

export interface FakePublishUpstream {
  /** http://127.0.0.1:port */
  origin: string;
  /** PackagePublish @id, without trailing slash (as nuget.org advertises it). */
  publishUrl: string;
  /** SymbolPackagePublish @id. */
  symbolPublishUrl: string;
  requests: ReceivedRequest[];
  /** Stored packages by "lowerid/normalizedversion". */
  packages: Map<string, { bytes: Buffer; listed: boolean }>;
  /** Answers queued for the next requests, before any other rule. */
  queue: CannedAnswer[];
  close(): Promise<void>;
}

const PUBLISH_PATH = '/api/v2/package';
const SYMBOL_PATH = '/api/v2/symbolpackage';

/** A strict reading of the one-part multipart body we expect from nugate. */
export function parseSinglePart(contentType: string | undefined, body: Buffer): { headers: string; content: Buffer } | undefined {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '');
  if (!m?.[2]) return undefined;
  const open = Buffer.from(`--${m[2]}\r\n`);
  const close = Buffer.from(`\r\n--${m[2]}--\r\n`);
  if (!body.subarray(0, open.length).equals(open) || !body.subarray(body.length - close.length).equals(close)) return undefined;
  const headerEnd = body.indexOf('\r\n\r\n', open.length);
  if (headerEnd < 0) return undefined;
  const content = body.subarray(headerEnd + 4, body.length - close.length);
  if (content.includes(Buffer.from(`--${m[2]}`))) return undefined;
  return { headers: body.subarray(open.length, headerEnd).toString('latin1'), content };
}

function packageKey(id: string, version: string): string | undefined {
  const v = normalizeVersionString(decodeURIComponent(version));
  return v === undefined ? undefined : `${decodeURIComponent(id).toLowerCase()}/${v.toLowerCase()}`;
}

export async function startFakePublishUpstream(options: FakePublishOptions = {}): Promise<FakePublishUpstream> {
  const requests: ReceivedRequest[] = [];
  const packages = new Map<string, { bytes: Buffer; listed: boolean }>();
  const queue: CannedAnswer[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
      const answer = (status: number, reason?: string, text = '', extra: Record<string, string | string[]> = {}): void => {
        res.writeHead(status, reason ?? STATUS_CODES[status] ?? 'Unknown', { 'content-type': 'text/plain', ...extra });
        res.end(text);
      };
      const canned = queue.shift();
      if (canned) return answer(canned.status, canned.reason, canned.body ?? '');

      const path = (req.url ?? '').split('?')[0] ?? '';
      if (!path.startsWith(PUBLISH_PATH) && !path.startsWith(SYMBOL_PATH)) return answer(404, 'Not Found');
      const key = req.headers['x-nuget-apikey'];
      if (options.apiKey !== undefined) {
        if (key === undefined) return answer(401, 'An API key is required');
        if (key !== options.apiKey) return answer(403, 'The specified API key is invalid, has expired, or does not have permission to access the specified package.');
      }

      const base = path.startsWith(SYMBOL_PATH) ? SYMBOL_PATH : PUBLISH_PATH;
      const rest = path.slice(base.length);
      if (req.method === 'PUT' && rest === '/') {
        const part = parseSinglePart(req.headers['content-type'], body);
        if (!part) return answer(400, 'Bad multipart body');
        let id: string;
        let version: string;
        try {
          ({ id, version } = readManifestFromBuffer(part.content).nuspec);
        } catch {
          return answer(400, 'The package is invalid');
        }
        const k = packageKey(id, version);
        if (k === undefined) return answer(400, 'Invalid version');
        if (packages.has(k)) return answer(409, `A package with ID '${id}' and version '${version}' already exists and cannot be modified.`, 'Conflict');
        packages.set(k, { bytes: Buffer.from(part.content), listed: true });
        return answer(201, options.createdReason ?? 'Created', '', options.warnings ? { 'x-nuget-warning': options.warnings } : {});
      }
      const m = /^\/([^/]+)\/([^/]+)$/.exec(rest);
      if (m?.[1] && m[2] && (req.method === 'DELETE' || req.method === 'POST')) {
        const k = packageKey(m[1], m[2]);
        const entry = k === undefined ? undefined : packages.get(k);
        if (!entry) return answer(404, 'Not Found');
        entry.listed = req.method === 'POST';
        return answer(200, 'OK');
      }
      return answer(405, 'Method Not Allowed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    publishUrl: `${origin}${PUBLISH_PATH}`,
    symbolPublishUrl: `${origin}${SYMBOL_PATH}`,
    requests,
    packages,
    queue,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
