/**
 * A programmable NuGet V3 feed on 127.0.0.1, port 0, for integration tests. Every URL it writes is absolute and
 * on its own origins (search lives on a second server, like nuget.org's azuresearch hosts), so a test can prove
 * that nothing leaks through nugate. It counts every request and can be told to fail in several ways.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { zipSync, strToU8 } from 'fflate';
import { createHash } from 'node:crypto';

export interface FakePackage {
  id: string;
  version: string;
  listed?: boolean;
  description?: string;
  packageTypes?: string[];
  dependencies?: Array<{ id: string; range: string }>;
  downloads?: number;
  /** Extra bytes in the package, to make it bigger. */
  padding?: number;
}

/** `stall`: a package's head and first half at once, the rest only when the faults are cleared. */
export type Fault = 'status500' | 'reset' | 'truncate' | 'hang' | 'html200' | 'stall';

export interface RequestRecord {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The peer's port: tells a request that came through a proxy (its outbound socket) from a direct one. */
  remotePort?: number;
}

export interface FakeUpstream {
  /** e.g. http://127.0.0.1:1234 */
  origin: string;
  searchOrigin: string;
  indexUrl: string;
  packages: FakePackage[];
  requests: RequestRecord[];
  count(substring: string): number;
  /** Like `count`, for requests that have arrived, answered or still held by `delay`. */
  arrived(substring: string): number;
  /** Makes every request whose path contains `match` fail this way (until cleared). */
  fail(match: string, fault: Fault): void;
  clearFaults(): void;
  /** Registration hive served gzip-encoded whatever the client asks (nuget.org's gz hives). */
  gzipRegistration: boolean;
  /** Delay in ms before answering (applies to every request). */
  delay: number;
  nupkg(id: string, version: string): Buffer;
  add(pkg: FakePackage): void;
  remove(id: string, version: string): void;
  close(): Promise<void>;
}

function lower(s: string): string {
  return s.toLowerCase();
}

/** The manifest inside the package; the flat container serves the same text as `{id}.nuspec`, as nuget.org does. */
function nuspecOf(p: FakePackage): string {
  const deps = (p.dependencies ?? []).map((d) => `<dependency id="${d.id}" version="${d.range}" />`).join('');
  const types = (p.packageTypes ?? []).map((t) => `<packageType name="${t}" />`).join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${p.id}</id>
    <version>${p.version}</version>
    <authors>fake</authors>
    <description>${p.description ?? `The ${p.id} package`}</description>
    ${types ? `<packageTypes>${types}</packageTypes>` : ''}
    <dependencies><group targetFramework="netstandard2.0">${deps}</group></dependencies>
  </metadata>
</package>`;
}

function buildNupkg(p: FakePackage): Buffer {
  const files: Record<string, Uint8Array> = {
    [`${p.id}.nuspec`]: strToU8(nuspecOf(p)),
    'lib/netstandard2.0/_._': new Uint8Array(0),
  };
  if (p.padding) {
    const pad = new Uint8Array(p.padding);
    for (let i = 0; i < pad.length; i++) pad[i] = (i * 7919) & 0xff;
    files['content/padding.bin'] = pad;
  }
  // level 0 keeps big fake packages cheap to build and their size predictable.
  return Buffer.from(zipSync(files, { level: 0 }));
}

export async function startFakeUpstream(initial: FakePackage[] = []): Promise<FakeUpstream> {
  const packages: FakePackage[] = [...initial];
  const requests: RequestRecord[] = [];
  const faults = new Map<string, Fault>();
  /** Stalled package answers, finished when the faults are cleared. */
  const stalled: Array<() => void> = [];
  const nupkgs = new Map<string, Buffer>();
  const key = (id: string, v: string): string => `${lower(id)}/${lower(v)}`;
  const nupkgOf = (p: FakePackage): Buffer => {
    const k = key(p.id, p.version);
    let b = nupkgs.get(k);
    if (!b) {
      b = buildNupkg(p);
      nupkgs.set(k, b);
    }
    return b;
  };

  const state = { origin: '', searchOrigin: '', gzipRegistration: false, delay: 0 };

  const byId = (id: string): FakePackage[] => packages.filter((p) => lower(p.id) === lower(id));
  const flat = (): string => `${state.origin}/flat/`;
  const hive = (): string => `${state.origin}/reg-semver2/`;

  const leaf = (p: FakePackage): Record<string, unknown> => {
    const id = lower(p.id);
    const v = lower(p.version);
    return {
      '@id': `${hive()}${id}/${v}.json`,
      '@type': 'Package',
      commitId: '00000000-0000-0000-0000-000000000001',
      commitTimeStamp: '2026-01-01T00:00:00+00:00',
      catalogEntry: {
        '@id': `${state.origin}/catalog0/data/2026.01.01.00.00.00/${id}.${v}.json`,
        '@type': 'PackageDetails',
        authors: 'fake',
        dependencyGroups: [
          {
            '@id': `${state.origin}/catalog0/data/2026.01.01.00.00.00/${id}.${v}.json#dependencygroup/.netstandard2.0`,
            targetFramework: '.NETStandard2.0',
            dependencies: (p.dependencies ?? []).map((d) => ({ '@id': `${state.origin}/catalog0/data/2026.01.01.00.00.00/${id}.${v}.json#dependency/${lower(d.id)}`, id: d.id, range: d.range, registration: `${hive()}${lower(d.id)}/index.json` })),
          },
        ],
        description: p.description ?? `The ${p.id} package`,
        iconUrl: `${flat()}${id}/${v}/icon`,
        id: p.id,
        listed: p.listed ?? true,
        packageContent: `${flat()}${id}/${v}/${id}.${v}.nupkg`,
        published: p.listed === false ? '1900-01-01T00:00:00+00:00' : '2026-01-01T00:00:00+00:00',
        version: p.version,
        unknownFutureField: { keep: true },
      },
      packageContent: `${flat()}${id}/${v}/${id}.${v}.nupkg`,
      registration: `${hive()}${id}/index.json`,
    };
  };

  const pageOf = (id: string, items: FakePackage[], inlined: boolean): Record<string, unknown> => {
    const lowerV = items[0]?.version ?? '0.0.0';
    const upperV = items[items.length - 1]?.version ?? '0.0.0';
    const page: Record<string, unknown> = {
      '@id': inlined ? `${hive()}${id}/index.json#page/${lowerV}/${upperV}` : `${hive()}${id}/page/${lower(lowerV)}/${lower(upperV)}.json`,
      '@type': 'catalog:CatalogPage',
      count: items.length,
      lower: lowerV,
      upper: upperV,
    };
    if (inlined) {
      page.items = items.map(leaf);
      page.parent = `${hive()}${id}/index.json`;
    }
    return page;
  };

  const sortByVersion = (list: FakePackage[]): FakePackage[] =>
    [...list].sort((a, b) => {
      const pa = a.version.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
      const pb = b.version.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
      for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const x = pa[i];
        const y = pb[i];
        if (x === y) continue;
        if (x === undefined) return -1;
        if (y === undefined) return 1;
        if (typeof x === 'number' && typeof y === 'number') return x - y;
        return String(x).localeCompare(String(y));
      }
      return 0;
    });

  const chunks = <T>(list: T[], size: number): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  };

  const registrationIndex = (id: string): Record<string, unknown> | undefined => {
    const list = sortByVersion(byId(id));
    if (list.length === 0) return undefined;
    const inlined = list.length < 128;
    const pages = chunks(list, 64).map((c) => pageOf(lower(id), c, inlined));
    return { '@id': `${hive()}${lower(id)}/index.json`, '@type': ['catalog:CatalogRoot', 'PackageRegistration'], count: pages.length, items: pages };
  };

  const searchResult = (ids: string[], url: URL): Record<string, unknown> => {
    const skip = Number(url.searchParams.get('skip') ?? 0);
    const take = Number(url.searchParams.get('take') ?? 20);
    const prerelease = url.searchParams.get('prerelease') === 'true';
    const data = ids.map((id) => {
      const list = sortByVersion(byId(id).filter((p) => (p.listed ?? true) && (prerelease || !p.version.includes('-'))));
      const latest = list[list.length - 1];
      return latest
        ? {
            '@id': `${hive()}${lower(id)}/index.json`,
            '@type': 'Package',
            registration: `${hive()}${lower(id)}/index.json`,
            id: latest.id,
            version: latest.version,
            description: latest.description ?? '',
            iconUrl: `${flat()}${lower(id)}/${lower(latest.version)}/icon`,
            totalDownloads: list.reduce((n, p) => n + (p.downloads ?? 0), 0),
            packageTypes: (latest.packageTypes ?? ['Dependency']).map((name) => ({ name })),
            versions: list.map((p) => ({ version: p.version, downloads: p.downloads ?? 0, '@id': `${hive()}${lower(id)}/${lower(p.version)}.json` })),
          }
        : undefined;
    });
    const present = data.filter((d) => d !== undefined);
    const packageType = url.searchParams.get('packageType');
    const filtered = packageType ? present.filter((d) => (d.packageTypes as Array<{ name: string }>).some((t) => lower(t.name) === lower(packageType))) : present;
    return { '@context': { '@vocab': 'http://schema.nuget.org/schema#' }, totalHits: filtered.length, data: filtered.slice(skip, skip + take) };
  };

  const matchingIds = (url: URL): string[] => {
    const q = lower(url.searchParams.get('q') ?? '');
    const ids = [...new Set(packages.map((p) => p.id))];
    return ids.filter((id) => lower(id).includes(q)).sort((a, b) => (b.length === a.length ? a.localeCompare(b) : a.length - b.length));
  };

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-length': String(buf.length), ...headers });
    res.end(buf);
  };
  const json = (req: IncomingMessage, res: ServerResponse, value: unknown, gzip = false): void => {
    const text = JSON.stringify(value);
    const etag = `"${createHash('sha1').update(text).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    if (gzip) send(res, 200, gzipSync(text), { 'content-type': 'application/json', 'content-encoding': 'gzip', etag });
    else send(res, 200, text, { 'content-type': 'application/json', etag });
  };

  const applyFault = (req: IncomingMessage, res: ServerResponse): boolean => {
    for (const [match, fault] of faults) {
      if (!(req.url ?? '').includes(match) || fault === 'stall') continue;
      if (fault === 'status500') send(res, 500, 'boom');
      else if (fault === 'reset') req.socket.destroy();
      else if (fault === 'html200') send(res, 200, '<html><body>Sign in</body></html>', { 'content-type': 'text/html' });
      else if (fault === 'hang') {
        /* never answers: the client's timeout must fire */
      } else if (fault === 'truncate') {
        res.writeHead(200, { 'content-length': '100000', 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(1000, 1));
        setTimeout(() => req.socket.destroy(), 20);
      }
      return true;
    }
    return false;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, ...(req.socket.remotePort === undefined ? {} : { remotePort: req.socket.remotePort }) });
    if (applyFault(req, res)) return;
    const url = new URL(req.url ?? '/', state.origin);
    const path = url.pathname;
    if (path === '/v3/index.json') {
      return json(req, res, {
        version: '3.0.0',
        resources: [
          { '@id': flat(), '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': hive(), '@type': 'RegistrationsBaseUrl/3.6.0' },
          { '@id': hive(), '@type': ['RegistrationsBaseUrl/Versioned'], clientVersion: '4.3.0-alpha' },
          { '@id': `${state.searchOrigin}/query`, '@type': 'SearchQueryService/3.0.0-beta' },
          { '@id': `${state.searchOrigin}/autocomplete`, '@type': 'SearchAutocompleteService/3.0.0-beta' },
          { '@id': `${state.origin}/vulnerabilities/index.json`, '@type': 'VulnerabilityInfo/6.7.0' },
          { '@id': `${state.origin}/catalog0/index.json`, '@type': 'Catalog/3.0.0' },
          { '@id': `${state.origin}/api/v2/package`, '@type': 'PackagePublish/2.0.0' },
          { '@id': `${state.origin}/api/v2`, '@type': 'LegacyGallery/2.0.0' },
          { '@id': 'urn:uuid:1b9f2c64-0000-4000-8000-000000000000', '@type': ['VssFeedId', 'Custom/1.0'] },
          { '@id': 'https://gallery.example/packages/{id}/{version}', '@type': 'PackageDetailsUriTemplate/5.1.0' },
        ],
      });
    }
    let m = /^\/flat\/([^/]+)\/index\.json$/.exec(path);
    if (m?.[1]) {
      if (m[1] !== lower(m[1])) return send(res, 404, 'lowercase only');
      const list = sortByVersion(byId(m[1]));
      return list.length === 0 ? send(res, 404, 'not found') : json(req, res, { versions: list.map((p) => lower(p.version)) });
    }
    m = /^\/flat\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m?.[1] && m[2] && m[3]) {
      const p = byId(m[1]).find((x) => lower(x.version) === m?.[2]);
      if (!p) return send(res, 404, 'not found');
      if (m[3] === `${m[1]}.${m[2]}.nupkg`) {
        const body = nupkgOf(p);
        if ([...faults].some(([match, fault]) => fault === 'stall' && (req.url ?? '').includes(match))) {
          const half = Math.floor(body.length / 2);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
          res.write(body.subarray(0, half));
          stalled.push(() => res.end(body.subarray(half)));
          return;
        }
        return send(res, 200, body, { 'content-type': 'application/octet-stream' });
      }
      if (m[3] === `${m[1]}.nuspec`) return send(res, 200, nuspecOf(p), { 'content-type': 'text/xml' });
      return send(res, 404, 'not found');
    }
    m = /^\/reg-semver2\/([^/]+)\/index\.json$/.exec(path);
    if (m?.[1]) {
      const index = registrationIndex(m[1]);
      return index ? json(req, res, index, state.gzipRegistration) : send(res, 404, 'not found');
    }
    m = /^\/reg-semver2\/([^/]+)\/page\/([^/]+)\/([^/]+)\.json$/.exec(path);
    if (m?.[1] && m[2] && m[3]) {
      const list = sortByVersion(byId(m[1]));
      const chunk = chunks(list, 64).find((c) => lower(c[0]?.version ?? '') === m?.[2] && lower(c[c.length - 1]?.version ?? '') === m?.[3]);
      if (!chunk) return send(res, 404, 'not found');
      return json(req, res, { ...pageOf(lower(m[1]), chunk, true), '@id': `${hive()}${lower(m[1])}/page/${m[2]}/${m[3]}.json` }, state.gzipRegistration);
    }
    if (path === '/vulnerabilities/index.json') {
      return json(req, res, [{ '@name': 'base', '@id': `${state.origin}/vulnerabilities/base.json`, '@updated': '2026-01-01T00:00:00Z' }]);
    }
    if (path === '/vulnerabilities/base.json') return json(req, res, {});
    m = /^\/catalog0\/(.+)$/.exec(path);
    if (m) return json(req, res, { '@id': `${state.origin}${path}`, note: 'catalog leaf' });
    return send(res, 404, 'not found');
  };

  const handleSearch = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? 'GET', path: `search:${req.url ?? '/'}`, headers: req.headers, ...(req.socket.remotePort === undefined ? {} : { remotePort: req.socket.remotePort }) });
    if (applyFault(req, res)) return;
    const url = new URL(req.url ?? '/', state.searchOrigin);
    if (url.pathname === '/query') return json(req, res, searchResult(matchingIds(url), url));
    if (url.pathname === '/autocomplete') {
      const id = url.searchParams.get('id');
      if (id !== null && url.searchParams.get('q') === null) {
        return json(req, res, { data: sortByVersion(byId(id).filter((p) => p.listed ?? true)).map((p) => p.version) });
      }
      const ids = matchingIds(url);
      const skip = Number(url.searchParams.get('skip') ?? 0);
      const take = Number(url.searchParams.get('take') ?? 20);
      return json(req, res, { totalHits: ids.length, data: ids.slice(skip, skip + take) });
    }
    return send(res, 404, 'not found');
  };

  const arrivals: string[] = [];
  const withDelay = (fn: (req: IncomingMessage, res: ServerResponse) => void) => (req: IncomingMessage, res: ServerResponse) => {
    arrivals.push(req.url ?? '/');
    if (state.delay > 0) setTimeout(() => fn(req, res), state.delay);
    else fn(req, res);
  };
  const main = createServer(withDelay(handle));
  const search = createServer(withDelay(handleSearch));
  const listen = (s: Server): Promise<string> =>
    new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
  state.origin = await listen(main);
  state.searchOrigin = await listen(search);

  return {
    origin: state.origin,
    searchOrigin: state.searchOrigin,
    indexUrl: `${state.origin}/v3/index.json`,
    packages,
    requests,
    count: (s) => requests.filter((r) => r.path.includes(s)).length,
    arrived: (s) => arrivals.filter((p) => p.includes(s)).length,
    fail: (match, fault) => faults.set(match, fault),
    clearFaults: () => {
      faults.clear();
      for (const finish of stalled.splice(0)) finish();
    },
    get gzipRegistration() {
      return state.gzipRegistration;
    },
    set gzipRegistration(v: boolean) {
      state.gzipRegistration = v;
    },
    get delay() {
      return state.delay;
    },
    set delay(v: number) {
      state.delay = v;
    },
    nupkg: (id, version) => {
      const p = byId(id).find((x) => lower(x.version) === lower(version));
      if (!p) throw new Error(`no fake package ${id} ${version}`);
      return nupkgOf(p);
    },
    add: (pkg) => packages.push(pkg),
    remove: (id, version) => {
      const i = packages.findIndex((p) => lower(p.id) === lower(id) && lower(p.version) === lower(version));
      if (i >= 0) packages.splice(i, 1);
    },
    close: async () => {
      for (const s of [main, search]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
