/**
 * A NuGet V3 feed on 127.0.0.1, port 0, whose shape a test chooses: with or without a flat container (Artifactory
 * has none), with or without search (the registry these machines reach has none), bare or full registration leaves,
 * packageContent on the flat container, on `/api/download/{id}/{version}` or anywhere else, a packageHash per
 * package, no ETag or Last-Modified (like the real registry). Every request is recorded so a test can count what
 * reached the upstream; `override` makes chosen paths misbehave; `delay` slows every answer.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { strToU8, zipSync } from 'fflate';
import { compareVersionStrings } from '../../src/nuget/version.ts';

export interface ShapedPackage {
  id: string;
  version: string;
  description?: string;
  authors?: string;
  tags?: string;
  dependencies?: Array<{ id: string; range: string }>;
  /**
   * packageHash the registration's catalogEntry gives (with packageHashAlgorithm SHA512): 'correct' is the real
   * base64 SHA-512 of the nupkg, any other string is sent as it is. Absent: no packageHash.
   */
  packageHash?: string;
}

export interface ShapedFeedOptions {
  packages?: ShapedPackage[];
  /** PackageBaseAddress in the service index (default true). */
  flatContainer?: boolean;
  /** SearchQueryService and SearchAutocompleteService (default false). */
  search?: boolean;
  /** PackagePublish (default false). */
  publish?: boolean;
  /** VulnerabilityInfo with two pages (default false). */
  vulnerability?: boolean;
  /** Registration leaves: 'bare' (catalogEntry with @id, id, version only; the default) or 'full'. */
  leaves?: 'bare' | 'full';
  /**
   * Where a leaf's packageContent points: 'flat' (the default with a flat container), 'download'
   * (`{origin}/api/download/{id}/{version}`, the default without one) or any URL a function builds.
   */
  packageContent?: 'flat' | 'download' | ((id: string, version: string) => string);
  /** The flat container serves `{id}.nuspec` (default false: 404, like feeds that only keep the nupkg). */
  nuspec?: boolean;
}

export interface ShapedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export type ShapedHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ShapedFeed {
  /** e.g. http://127.0.0.1:1234 */
  origin: string;
  /** The port, as text (to look for in what nugate sends). */
  port: string;
  indexUrl: string;
  packages: ShapedPackage[];
  requests: ShapedRequest[];
  /** Requests whose path contains `substring`. */
  count(substring: string): number;
  /** Milliseconds to wait before answering any request. */
  delay: number;
  add(pkg: ShapedPackage): void;
  nupkg(id: string, version: string): Buffer;
  /** Answers every request whose path contains `match` with `handler` (first match wins) until cleared. */
  override(match: string, handler: ShapedHandler): void;
  clearOverrides(): void;
  close(): Promise<void>;
}

const lower = (s: string): string => s.toLowerCase();

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function shapedNuspec(p: ShapedPackage): string {
  const deps = (p.dependencies ?? []).map((d) => `<dependency id="${xml(d.id)}" version="${xml(d.range)}" />`).join('');
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">',
    '  <metadata>',
    `    <id>${xml(p.id)}</id>`,
    `    <version>${xml(p.version)}</version>`,
    `    <authors>${xml(p.authors ?? 'shaped feed')}</authors>`,
    `    <description>${xml(p.description ?? `The ${p.id} package`)}</description>`,
    ...(p.tags === undefined ? [] : [`    <tags>${xml(p.tags)}</tags>`]),
    `    <dependencies><group targetFramework="net8.0">${deps}</group></dependencies>`,
    '  </metadata>',
    '</package>',
    '',
  ].join('\n');
}

function buildNupkg(p: ShapedPackage): Buffer {
  return Buffer.from(
    zipSync(
      {
        [`${p.id}.nuspec`]: strToU8(shapedNuspec(p)),
        'lib/net8.0/_._': new Uint8Array(0),
      },
      { mtime: new Date('2024-01-15T10:20:30Z') },
    ),
  );
}


export async function startShapedFeed(opts: ShapedFeedOptions = {}): Promise<ShapedFeed> {
  const packages: ShapedPackage[] = [...(opts.packages ?? [])];
  const requests: ShapedRequest[] = [];
  const overrides: Array<[string, ShapedHandler]> = [];
  const nupkgs = new Map<string, Buffer>();
  const hasFlat = opts.flatContainer ?? true;
  const state = { origin: '', delay: 0 };

  const nupkgOf = (p: ShapedPackage): Buffer => {
    const k = `${lower(p.id)}/${lower(p.version)}`;
    let b = nupkgs.get(k);
    if (b === undefined) {
      b = buildNupkg(p);
      nupkgs.set(k, b);
    }
    return b;
  };
  const byId = (id: string): ShapedPackage[] => packages.filter((p) => lower(p.id) === lower(id)).sort((a, b) => compareVersionStrings(a.version, b.version));
  const flat = (): string => `${state.origin}/flat/`;
  const reg = (): string => `${state.origin}/reg/`;

  const contentUrl = (id: string, v: string): string => {
    const how = opts.packageContent ?? (hasFlat ? 'flat' : 'download');
    if (typeof how === 'function') return how(id, v);
    if (how === 'download') return `${state.origin}/api/download/${id}/${v}`;
    return `${flat()}${id}/${v}/${id}.${v}.nupkg`;
  };

  const leaf = (p: ShapedPackage): Record<string, unknown> => {
    const id = lower(p.id);
    const v = lower(p.version);
    const entry: Record<string, unknown> = { '@id': `${reg()}${id}/${v}.json`, id: p.id, version: p.version };
    if (opts.leaves === 'full') {
      entry.authors = p.authors ?? 'shaped feed';
      entry.description = p.description ?? `The ${p.id} package`;
      entry.listed = true;
      entry.dependencyGroups = [
        { targetFramework: 'net8.0', dependencies: (p.dependencies ?? []).map((d) => ({ id: d.id, range: d.range, registration: `${reg()}${lower(d.id)}/index.json` })) },
      ];
    }
    if (p.packageHash !== undefined) {
      entry.packageHash = p.packageHash === 'correct' ? createHash('sha512').update(nupkgOf(p)).digest('base64') : p.packageHash;
      entry.packageHashAlgorithm = 'SHA512';
    }
    return {
      '@id': `${reg()}${id}/${v}.json`,
      '@type': 'Package',
      catalogEntry: entry,
      packageContent: contentUrl(id, v),
      registration: `${reg()}${id}/index.json`,
    };
  };

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': String(buf.length), ...headers });
    res.end(buf);
  };
  // No ETag, no Last-Modified: like the registry these machines reach.
  const json = (res: ServerResponse, value: unknown): void => send(res, 200, JSON.stringify(value), { 'content-type': 'application/json' });

  const serviceIndex = (): unknown => {
    const resources: Array<Record<string, unknown>> = [];
    if (hasFlat) resources.push({ '@id': flat(), '@type': 'PackageBaseAddress/3.0.0' });
    resources.push({ '@id': reg(), '@type': 'RegistrationsBaseUrl/3.6.0' });
    if (opts.search) {
      resources.push({ '@id': `${state.origin}/query`, '@type': 'SearchQueryService/3.0.0-beta' });
      resources.push({ '@id': `${state.origin}/autocomplete`, '@type': 'SearchAutocompleteService/3.0.0-beta' });
    }
    if (opts.publish) resources.push({ '@id': `${state.origin}/api/v2/package`, '@type': 'PackagePublish/2.0.0' });
    if (opts.vulnerability) resources.push({ '@id': `${state.origin}/vuln/index.json`, '@type': 'VulnerabilityInfo/6.7.0' });
    return { version: '3.0.0', resources };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    for (const [match, handler] of overrides) {
      if (path.includes(match)) return handler(req, res);
    }
    const url = new URL(path, state.origin);
    const p = url.pathname;
    if (p === '/v3/index.json') return json(res, serviceIndex());
    let m: RegExpExecArray | null;
    if (hasFlat && (m = /^\/flat\/([^/]+)\/index\.json$/.exec(p)) && m[1] !== undefined) {
      const list = byId(m[1]);
      return list.length === 0 ? send(res, 404, 'not found') : json(res, { versions: list.map((x) => lower(x.version)) });
    }
    if (hasFlat && (m = /^\/flat\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(p)) && m[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
      const id = m[1];
      const v = m[2];
      const pkg = byId(id).find((x) => lower(x.version) === v);
      if (pkg === undefined) return send(res, 404, 'not found');
      if (m[3] === `${id}.${v}.nupkg`) return send(res, 200, nupkgOf(pkg), { 'content-type': 'application/octet-stream' });
      if (m[3] === `${id}.nuspec` && opts.nuspec === true) return send(res, 200, shapedNuspec(pkg), { 'content-type': 'text/xml' });
      return send(res, 404, 'not found');
    }
    if ((m = /^\/api\/download\/([^/]+)\/([^/]+)$/.exec(p)) && m[1] !== undefined && m[2] !== undefined) {
      const v = m[2];
      const pkg = byId(m[1]).find((x) => lower(x.version) === v);
      return pkg === undefined ? send(res, 404, 'not found') : send(res, 200, nupkgOf(pkg), { 'content-type': 'application/octet-stream' });
    }
    if ((m = /^\/reg\/([^/]+)\/index\.json$/.exec(p)) && m[1] !== undefined) {
      const id = lower(m[1]);
      const list = byId(id);
      if (list.length === 0) return send(res, 404, 'not found');
      const first = list[0];
      const last = list[list.length - 1];
      return json(res, {
        '@id': `${reg()}${id}/index.json`,
        count: 1,
        items: [
          {
            '@id': `${reg()}${id}/index.json#page/${first?.version}/${last?.version}`,
            count: list.length,
            lower: first?.version,
            upper: last?.version,
            items: list.map(leaf),
          },
        ],
      });
    }
    if ((m = /^\/reg\/([^/]+)\/([^/]+)\.json$/.exec(p)) && m[1] !== undefined && m[2] !== undefined) {
      const v = m[2];
      const pkg = byId(m[1]).find((x) => lower(x.version) === v);
      return pkg === undefined ? send(res, 404, 'not found') : json(res, leaf(pkg));
    }
    if (opts.search && p === '/query') {
      const q = lower(url.searchParams.get('q') ?? '');
      const skip = Number(url.searchParams.get('skip') ?? 0);
      const take = Number(url.searchParams.get('take') ?? 20);
      const ids = [...new Set(packages.map((x) => x.id))].filter((id) => lower(id).includes(q)).sort();
      const data = ids.map((id) => {
        const list = byId(id);
        const latest = list[list.length - 1];
        return {
          '@id': `${reg()}${lower(id)}/index.json`,
          '@type': 'Package',
          registration: `${reg()}${lower(id)}/index.json`,
          id,
          version: latest?.version,
          description: latest?.description ?? `The ${id} package`,
          versions: list.map((x) => ({ version: x.version, downloads: 0, '@id': `${reg()}${lower(id)}/${lower(x.version)}.json` })),
        };
      });
      return json(res, { totalHits: data.length, data: data.slice(skip, skip + take) });
    }
    if (opts.search && p === '/autocomplete') {
      const q = lower(url.searchParams.get('q') ?? '');
      const ids = [...new Set(packages.map((x) => x.id))].filter((id) => lower(id).includes(q)).sort();
      return json(res, { totalHits: ids.length, data: ids });
    }
    if (opts.vulnerability && p === '/vuln/index.json') {
      return json(res, [
        { '@name': 'base', '@id': `${state.origin}/vuln/base.json`, '@updated': '2026-01-01T00:00:00Z' },
        { '@name': 'update', '@id': `${state.origin}/vuln/update.json`, '@updated': '2026-01-02T00:00:00Z', comment: 'page two' },
      ]);
    }
    if (opts.vulnerability && p === '/vuln/base.json') {
      return json(res, { 'vulnerable.pkg': [{ severity: 2, url: 'https://github.com/advisories/GHSA-base-0001', versions: '(, 2.0.0)' }] });
    }
    if (opts.vulnerability && p === '/vuln/update.json') {
      return json(res, { 'other.pkg': [{ severity: 1, url: 'https://github.com/advisories/GHSA-updt-0002', versions: '(, 1.1.0)' }] });
    }
    return send(res, 404, 'not found');
  };

  const server = createServer((req, res) => {
    if (state.delay > 0) setTimeout(() => handle(req, res), state.delay);
    else handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = String((server.address() as AddressInfo).port);
  state.origin = `http://127.0.0.1:${port}`;
  let closed = false;

  return {
    origin: state.origin,
    port,
    indexUrl: `${state.origin}/v3/index.json`,
    packages,
    requests,
    count: (s) => requests.filter((r) => r.path.includes(s)).length,
    get delay() {
      return state.delay;
    },
    set delay(v: number) {
      state.delay = v;
    },
    add: (pkg) => void packages.push(pkg),
    nupkg: (id, version) => {
      const pkg = byId(id).find((x) => lower(x.version) === lower(version));
      if (pkg === undefined) throw new Error(`no shaped package ${id} ${version}`);
      return nupkgOf(pkg);
    },
    override: (match, handler) => void overrides.push([match, handler]),
    clearOverrides: () => void overrides.splice(0),
    close: async () => {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
