/**
 * A small NuGet V3 feed on 127.0.0.1, port 0, for the web UI tests: full registration leaves with dependency
 * groups, deprecation and vulnerabilities, a readme in the flat container, and a search service. Texts carry
 * markup on purpose (a readme with <script>, a description with an <img onerror>) so a test can prove the UI
 * shows them as text.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { strToU8, zipSync } from 'fflate';

export interface UiFeedPackage {
  id: string;
  version: string;
  description?: string;
  readme?: string;
  dependencies?: Array<{ framework: string; id: string; range: string }>;
  deprecation?: { reasons: string[]; message?: string; alternatePackage?: { id: string; range: string } };
  vulnerabilities?: Array<{ advisoryUrl: string; severity: string }>;
}

export interface UiFeed {
  origin: string;
  /** The port as text, to look for in what nugate sends. */
  port: string;
  indexUrl: string;
  requests: string[];
  close(): Promise<void>;
}

const lower = (s: string): string => s.toLowerCase();
const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function nupkg(p: UiFeedPackage): Buffer {
  const nuspec = `<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>${xml(p.id)}</id>
    <version>${xml(p.version)}</version>
    <authors>ui-test</authors>
    <description>${xml(p.description ?? p.id)}</description>
    ${p.readme !== undefined ? '<readme>README.md</readme>' : ''}
  </metadata>
</package>`;
  const files: Record<string, Uint8Array> = { [`${p.id}.nuspec`]: strToU8(nuspec), 'lib/netstandard2.0/_._': new Uint8Array(0) };
  if (p.readme !== undefined) files['README.md'] = strToU8(p.readme);
  return Buffer.from(zipSync(files, { level: 0 }));
}

export async function startUiFeed(packages: UiFeedPackage[]): Promise<UiFeed> {
  const requests: string[] = [];
  let origin = '';
  const byId = (id: string): UiFeedPackage[] => packages.filter((p) => lower(p.id) === lower(id));

  const leaf = (p: UiFeedPackage): Record<string, unknown> => {
    const id = lower(p.id);
    const v = lower(p.version);
    const groups = new Map<string, Array<{ id: string; range: string }>>();
    for (const d of p.dependencies ?? []) groups.set(d.framework, [...(groups.get(d.framework) ?? []), { id: d.id, range: d.range }]);
    const entry: Record<string, unknown> = {
      '@id': `${origin}/catalog/${id}.${v}.json`,
      '@type': 'PackageDetails',
      id: p.id,
      version: p.version,
      authors: 'ui-test',
      description: p.description ?? p.id,
      tags: ['ui', 'test'],
      listed: true,
      published: '2026-02-03T04:05:06+00:00',
      packageContent: `${origin}/flat/${id}/${v}/${id}.${v}.nupkg`,
      // An upstream URL in a field the UI must never print.
      projectUrl: `${origin}/project/${id}`,
      dependencyGroups: [...groups].map(([framework, deps]) => ({ '@id': `${origin}/catalog/${id}.${v}.json#g/${framework}`, targetFramework: framework, dependencies: deps.map((d) => ({ '@id': `${origin}/catalog/dep`, id: d.id, range: d.range, registration: `${origin}/reg/${lower(d.id)}/index.json` })) })),
    };
    if (p.deprecation) entry['deprecation'] = { '@id': `${origin}/catalog/${id}.${v}.json#deprecation`, ...p.deprecation };
    if (p.vulnerabilities) entry['vulnerabilities'] = p.vulnerabilities.map((x, i) => ({ '@id': `${origin}/catalog/${id}.${v}.json#vulnerability/${i}`, ...x }));
    return { '@id': `${origin}/reg/${id}/${v}.json`, '@type': 'Package', catalogEntry: entry, packageContent: entry['packageContent'], registration: `${origin}/reg/${id}/index.json` };
  };

  const send = (res: ServerResponse, status: number, body: string | Buffer, type = 'application/json'): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    requests.push(path);
    if (path === '/index.json') {
      return send(res, 200, JSON.stringify({
        version: '3.0.0',
        resources: [
          { '@id': `${origin}/flat/`, '@type': 'PackageBaseAddress/3.0.0' },
          { '@id': `${origin}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' },
          { '@id': `${origin}/query`, '@type': 'SearchQueryService/3.5.0' },
        ],
      }));
    }
    if (path === '/query') {
      const q = lower(url.searchParams.get('q') ?? '');
      const ids = [...new Set(packages.filter((p) => lower(p.id).includes(q)).map((p) => p.id))];
      const data = ids.map((id) => {
        const versions = byId(id);
        const latest = versions[versions.length - 1] ?? { id, version: '0.0.0' };
        return { '@id': `${origin}/reg/${lower(id)}/index.json`, id, version: latest.version, description: latest.description ?? id, totalDownloads: 42, versions: versions.map((v) => ({ version: v.version, downloads: 21, '@id': `${origin}/reg/${lower(id)}/${lower(v.version)}.json` })) };
      });
      return send(res, 200, JSON.stringify({ totalHits: data.length, data }));
    }
    let m = /^\/flat\/([^/]+)\/index\.json$/.exec(path);
    if (m) {
      const found = byId(m[1] ?? '');
      return found.length === 0 ? send(res, 404, '{}') : send(res, 200, JSON.stringify({ versions: found.map((p) => lower(p.version)) }));
    }
    m = /^\/flat\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const p = byId(m[1] ?? '').find((x) => lower(x.version) === m?.[2]);
      if (p === undefined) return send(res, 404, 'not found', 'text/plain');
      const id = lower(p.id);
      const v = lower(p.version);
      if (m[3] === `${id}.${v}.nupkg`) return send(res, 200, nupkg(p), 'application/octet-stream');
      if (m[3] === 'readme' && p.readme !== undefined) return send(res, 200, p.readme, 'text/markdown');
      return send(res, 404, 'not found', 'text/plain');
    }
    m = /^\/reg\/([^/]+)\/index\.json$/.exec(path);
    if (m) {
      const found = byId(m[1] ?? '');
      if (found.length === 0) return send(res, 404, '{}');
      const id = lower(found[0]?.id ?? '');
      return send(res, 200, JSON.stringify({
        '@id': `${origin}/reg/${id}/index.json`,
        count: 1,
        items: [{ '@id': `${origin}/reg/${id}/index.json#page`, count: found.length, lower: found[0]?.version, upper: found[found.length - 1]?.version, items: found.map(leaf) }],
      }));
    }
    send(res, 404, 'not found', 'text/plain');
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port: String(port),
    indexUrl: `${origin}/index.json`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
