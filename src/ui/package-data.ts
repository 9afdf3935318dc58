/**
 * What the package page shows, gathered from the Sources the same way the feed answers (ARCHITECTURE.md): the
 * merged version list with the upstream that serves each (resources/resolve.ts `mergedVersions`), the merged
 * registration leaves for metadata, dependencies and flags, `holds` for what is cached, and the readme file.
 * Upstream JSON is read defensively: every field is checked before it is shown, nothing is trusted to be there.
 */
import type { Services, Feed } from '../services.ts';
import { eligibleSources } from '../services.ts';
import type { Source } from '../sources/source.ts';
import { fanOut, nothingUsable, type Outcome } from '../resources/common.ts';
import { mergedVersions } from '../resources/resolve.ts';
import { mergeLeaves, type Leaf } from '../merge/registration.ts';
import { isJsonObject, type JsonObject } from '../nuget/json.ts';
import { compareVersions, parseVersion, isPrerelease } from '../nuget/version.ts';
import { UpstreamError } from '../errors.ts';
import { blobBodyStream, closeBlobBody } from '../cache/index.ts';

/** The most of a readme the page shows. */
export const README_MAX_BYTES = 256 * 1024;
/** Versions listed on one page (newest first); an id with more says how many it left out. */
export const MAX_VERSION_ROWS = 300;

export interface VersionRow {
  /** Lowercase normalized (the flat-container form): the link key. */
  version: string;
  /** As the package spells it (case kept). */
  display: string;
  /** The upstream that serves it. */
  upstream: string | undefined;
  listed: boolean;
  prerelease: boolean;
  published: string | undefined;
  cached: boolean;
  deprecated: boolean;
  vulnerable: boolean;
}

export interface DependencyGroup {
  framework: string;
  dependencies: Array<{ id: string; range: string }>;
}

export interface Vulnerability {
  severity: string;
  advisoryUrl: string | undefined;
}

export interface Deprecation {
  reasons: string[];
  message: string | undefined;
  alternate: { id: string; range: string | undefined } | undefined;
}

export interface VersionDetails {
  version: string;
  display: string;
  description: string | undefined;
  authors: string | undefined;
  tags: string[];
  published: string | undefined;
  listed: boolean;
  dependencyGroups: DependencyGroup[];
  vulnerabilities: Vulnerability[];
  deprecation: Deprecation | undefined;
}

export interface PackageView {
  id: string;
  displayId: string;
  versions: VersionRow[];
  /** Versions not listed on the page (beyond MAX_VERSION_ROWS). */
  omitted: number;
  selected: VersionDetails | undefined;
  readme: { text: string; truncated: boolean } | undefined;
  /** Upstreams that could not answer (named only), so the page says what may be missing. */
  problems: string[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function entryOf(leaf: Leaf | undefined): JsonObject {
  const e = leaf?.item['catalogEntry'];
  return isJsonObject(e) ? e : {};
}

const SEVERITY = ['low', 'moderate', 'high', 'critical'];

function vulnerabilitiesOf(entry: JsonObject): Vulnerability[] {
  const list = entry['vulnerabilities'];
  if (!Array.isArray(list)) return [];
  return list.filter(isJsonObject).map((v) => {
    // Registration severity is "0".."3" (https://learn.microsoft.com/nuget/api/registration-base-url-resource#vulnerabilities).
    const raw = v['severity'];
    const n = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : Number.NaN;
    const url = str(v['advisoryUrl']);
    return { severity: SEVERITY[n] ?? 'unknown', advisoryUrl: url !== undefined && /^https:\/\//i.test(url) ? url : undefined };
  });
}

function deprecationOf(entry: JsonObject): Deprecation | undefined {
  const d = entry['deprecation'];
  if (!isJsonObject(d)) return undefined;
  const reasons = Array.isArray(d['reasons']) ? d['reasons'].filter((r): r is string => typeof r === 'string') : [];
  const alt = d['alternatePackage'];
  const altId = isJsonObject(alt) ? str(alt['id']) : undefined;
  return { reasons, message: str(d['message']), alternate: altId === undefined || !isJsonObject(alt) ? undefined : { id: altId, range: str(alt['range']) } };
}

function dependencyGroupsOf(entry: JsonObject): DependencyGroup[] {
  const groups = entry['dependencyGroups'];
  if (!Array.isArray(groups)) return [];
  return groups.filter(isJsonObject).map((g) => ({
    framework: str(g['targetFramework']) ?? 'any framework',
    dependencies: (Array.isArray(g['dependencies']) ? g['dependencies'] : []).filter(isJsonObject).flatMap((d) => {
      const id = str(d['id']);
      return id === undefined ? [] : [{ id, range: str(d['range']) ?? '(any)' }];
    }),
  }));
}

/** nuget.org marks an unlisted package by publishing it in 1900. */
const isListed = (entry: JsonObject): boolean => entry['listed'] !== false && !str(entry['published'])?.startsWith('1900-');

function tagsOf(entry: JsonObject): string[] {
  const t = entry['tags'];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string' && x !== '');
  return typeof t === 'string' ? t.split(/[\s,]+/).filter((x) => x !== '') : [];
}

function authorsOf(entry: JsonObject): string | undefined {
  const a = entry['authors'];
  return Array.isArray(a) ? a.filter((x): x is string => typeof x === 'string').join(', ') || undefined : str(a);
}

function detailsOf(version: string, leaf: Leaf | undefined): VersionDetails {
  const entry = entryOf(leaf);
  return {
    version,
    display: str(entry['version']) ?? version,
    description: str(entry['description']),
    authors: authorsOf(entry),
    tags: tagsOf(entry),
    published: isListed(entry) ? str(entry['published']) : undefined,
    listed: isListed(entry),
    dependencyGroups: dependencyGroupsOf(entry),
    vulnerabilities: vulnerabilitiesOf(entry),
    deprecation: deprecationOf(entry),
  };
}

/** Reads at most `max` bytes of a package file; the rest is left unread and released. */
async function readCapped(src: Source, id: string, version: string, max: number): Promise<{ text: string; truncated: boolean } | undefined> {
  const blob = await src.file(id, version, 'readme');
  if (blob === undefined) return undefined;
  if (blob.size !== undefined && blob.size > max * 4) {
    await closeBlobBody(blob.body);
    return { text: '', truncated: true };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const stream = blobBodyStream(blob.body);
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buf);
    total += buf.length;
    if (total >= max) {
      stream.destroy();
      break;
    }
  }
  const all = Buffer.concat(chunks);
  return { text: all.subarray(0, max).toString('utf8'), truncated: total > max };
}

const failures = (outcomes: Array<Outcome<unknown>>): string[] =>
  outcomes.flatMap((o) => (o.kind === 'failed' ? [o.error instanceof UpstreamError ? o.error.message : `${o.source.name}: unavailable`] : []));

/**
 * Everything the package page shows for `id`, with `wanted` (a lowercase normalized version) selected, or the
 * latest listed stable version. Throws the feed's own 404/503 when no source knows the id.
 */
export async function loadPackage(s: Services, feed: Feed, id: string, wanted?: string): Promise<PackageView> {
  const sources = eligibleSources(s, feed, id);
  const [merged, regOutcomes] = await Promise.all([mergedVersions(s, feed, id), fanOut(sources, (src) => src.registration(id))]);
  const leaves = mergeLeaves(regOutcomes.map((o) => (o.kind === 'ok' ? o.value : [])));
  const byVersion = new Map(leaves.map((l) => [l.version, l]));
  // A version only the registration knows (a feed without a flat container) is still a version of the package.
  const all = [...new Set([...merged.versions, ...leaves.map((l) => l.version)])];
  if (all.length === 0) throw nothingUsable(s, [...merged.outcomes, ...regOutcomes], `package ${id}`);
  // mergedVersions and mergeLeaves are each ascending, their union is not: sorted once, newest first.
  const ordered = all.flatMap((v) => {
    const parsed = parseVersion(v);
    return parsed === undefined ? [] : [{ v, parsed }];
  });
  ordered.sort((a, b) => compareVersions(b.parsed, a.parsed));
  const shown = ordered.slice(0, MAX_VERSION_ROWS);
  const cached = await Promise.all(shown.map(async ({ v }) => (await Promise.all(sources.map((src) => src.holds(id, v, 'nupkg')))).some(Boolean)));
  const versions: VersionRow[] = shown.map(({ v, parsed }, i) => {
    const leaf = byVersion.get(v);
    const entry = entryOf(leaf);
    return {
      version: v,
      display: str(entry['version']) ?? v,
      upstream: merged.provenance[v] ?? leaf?.upstream,
      listed: isListed(entry),
      prerelease: isPrerelease(parsed),
      published: isListed(entry) ? str(entry['published']) : undefined,
      cached: cached[i] ?? false,
      deprecated: deprecationOf(entry) !== undefined,
      vulnerable: vulnerabilitiesOf(entry).length > 0,
    };
  });
  const pick = wanted ?? (versions.find((r) => r.listed && !r.prerelease) ?? versions[0])?.version;
  const known = pick !== undefined && all.includes(pick);
  const selected = known ? detailsOf(pick, byVersion.get(pick)) : undefined;
  const latestEntry = entryOf(leaves[leaves.length - 1]);
  let readme: PackageView['readme'];
  const problems = failures([...merged.outcomes, ...regOutcomes]);
  if (selected !== undefined) {
    const serving = sources.find((u) => u.name === (merged.provenance[selected.version] ?? byVersion.get(selected.version)?.upstream));
    if (serving !== undefined) {
      try {
        readme = await readCapped(serving, id, selected.version, README_MAX_BYTES);
      } catch (err) {
        problems.push(err instanceof UpstreamError ? `readme: ${err.message}` : 'readme: not available');
      }
    }
  }
  return {
    id,
    displayId: str(entryOf(byVersion.get(selected?.version ?? '')).id) ?? str(latestEntry['id']) ?? id,
    versions,
    omitted: ordered.length - shown.length,
    selected,
    readme,
    problems,
  };
}

