/**
 * The real, signed packages that tests serve and restore. They live on this machine in NuGet's global-packages
 * layout (`<root>/<lowerid>/<version>/{<lowerid>.<version>.nupkg, .nupkg.sha512, <lowerid>.nuspec}`), so no test
 * ever needs the internet. `NUGATE_TEST_PACKAGES` points somewhere else when the layout lives elsewhere.
 *
 * The id comes from the nuspec (proper case, e.g. `Microsoft.NET.Test.Sdk`), never from the folder name.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { unzipSync } from 'fflate';

export const DEFAULT_PACKAGES_ROOT = process.env.NUGATE_TEST_PACKAGES ?? '/opt/nuget/packages';

export interface PackageDependency {
  id: string;
  /** The range exactly as the nuspec writes it (`2.9.3`, `[2.9.3]`, `[1.0, 2.0)`). */
  range: string;
  exclude?: string;
  include?: string;
}

export interface DependencyGroup {
  /** Absent for a nuspec whose `<dependencies>` has no `<group>` (dependencies for every framework). */
  targetFramework?: string;
  dependencies: PackageDependency[];
}

/** Nuspec metadata fields that registration and search expose. Absent fields are left out. */
export interface PackageMetadata {
  title?: string;
  description?: string;
  summary?: string;
  authors?: string;
  owners?: string;
  tags?: string;
  projectUrl?: string;
  licenseUrl?: string;
  licenseExpression?: string;
  iconUrl?: string;
  /** Path of the embedded icon inside the nupkg (`<icon>`), forward slashes. */
  icon?: string;
  readme?: string;
  releaseNotes?: string;
  copyright?: string;
  language?: string;
  requireLicenseAcceptance?: boolean;
  minClientVersion?: string;
  packageTypes?: string[];
}

export interface LocalPackage {
  /** Id as the nuspec spells it. */
  id: string;
  lowerId: string;
  /** Version as the nuspec spells it. */
  version: string;
  /** Normalized (NuGet rules), lowercased, without build metadata: what flat container URLs use. */
  lowerVersion: string;
  /** Normalized version, original case, build metadata kept: what registration `catalogEntry.version` uses. */
  normalizedVersion: string;
  nupkgPath: string;
  size: number;
  /** Base64 SHA-512 of the nupkg, as NuGet writes it to `.nupkg.sha512`. */
  sha512: string;
  nuspecXml: string;
  dependencyGroups: DependencyGroup[];
  metadata: PackageMetadata;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  removeNSPrefix: true,
  trimValues: true,
  isArray: (name) => ['group', 'dependency', 'packageType'].includes(name),
});

type XmlNode = Record<string, unknown>;

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of an element that may be plain text or an object carrying `#text` plus attributes. */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (isNode(v) && typeof v['#text'] === 'string') return v['#text'] === '' ? undefined : v['#text'];
  return undefined;
}

function attr(v: unknown, name: string): string | undefined {
  if (!isNode(v)) return undefined;
  const a = v[`@_${name}`];
  return typeof a === 'string' ? a : undefined;
}

function nodes(v: unknown): XmlNode[] {
  if (Array.isArray(v)) return v.filter(isNode);
  return isNode(v) ? [v] : [];
}

function parseDependency(node: XmlNode): PackageDependency {
  const id = attr(node, 'id');
  if (id === undefined) throw new Error('nuspec <dependency> without an id attribute');
  const dep: PackageDependency = { id, range: attr(node, 'version') ?? '' };
  const exclude = attr(node, 'exclude');
  const include = attr(node, 'include');
  if (exclude !== undefined) dep.exclude = exclude;
  if (include !== undefined) dep.include = include;
  return dep;
}

export interface ParsedNuspec {
  id: string;
  version: string;
  dependencyGroups: DependencyGroup[];
  metadata: PackageMetadata;
}

/** Parses a nuspec document (a leading BOM is fine). Throws when id or version is missing. */
export function parseNuspec(xml: string): ParsedNuspec {
  const doc: unknown = parser.parse(xml.replace(/^\uFEFF/, ''));
  const pkg = isNode(doc) ? doc['package'] : undefined;
  const md = isNode(pkg) ? pkg['metadata'] : undefined;
  if (!isNode(md)) throw new Error('nuspec has no <package><metadata>');
  const id = text(md['id']);
  const version = text(md['version']);
  if (id === undefined || version === undefined) throw new Error('nuspec has no <id> or <version>');

  const dependencyGroups: DependencyGroup[] = [];
  const deps = md['dependencies'];
  if (isNode(deps)) {
    for (const g of nodes(deps['group'])) {
      const group: DependencyGroup = { dependencies: nodes(g['dependency']).map(parseDependency) };
      const tfm = attr(g, 'targetFramework');
      if (tfm !== undefined) group.targetFramework = tfm;
      dependencyGroups.push(group);
    }
    const flat = nodes(deps['dependency']).map(parseDependency);
    if (flat.length > 0) dependencyGroups.push({ dependencies: flat });
  }

  const metadata: PackageMetadata = {};
  const stringFields = [
    'title', 'description', 'summary', 'authors', 'owners', 'tags', 'projectUrl', 'licenseUrl', 'iconUrl',
    'readme', 'releaseNotes', 'copyright', 'language',
  ] as const;
  for (const f of stringFields) {
    const v = text(md[f]);
    if (v !== undefined) metadata[f] = v;
  }
  const icon = text(md['icon']);
  if (icon !== undefined) metadata.icon = icon.replace(/\\/g, '/');
  const license = md['license'];
  if (attr(license, 'type') === 'expression') {
    const expr = text(license);
    if (expr !== undefined) metadata.licenseExpression = expr;
  }
  const rla = text(md['requireLicenseAcceptance']);
  if (rla !== undefined) metadata.requireLicenseAcceptance = rla.toLowerCase() === 'true';
  const mcv = attr(md, 'minClientVersion');
  if (mcv !== undefined) metadata.minClientVersion = mcv;
  const types = md['packageTypes'];
  if (isNode(types)) {
    const names = nodes(types['packageType']).map((t) => attr(t, 'name')).filter((n): n is string => n !== undefined);
    if (names.length > 0) metadata.packageTypes = names;
  }
  return { id, version, dependencyGroups, metadata };
}

/**
 * NuGet's normalized version string: leading zeros stripped, a 4th part of 0 dropped, at least 3 parts.
 * Build metadata is kept unless `stripMetadata`; the original case is kept.
 */
export function normalizeVersion(version: string, stripMetadata = false): string {
  const plus = version.indexOf('+');
  const core = plus >= 0 ? version.slice(0, plus) : version;
  const metadata = plus >= 0 ? version.slice(plus) : '';
  const dash = core.indexOf('-');
  const release = dash >= 0 ? core.slice(0, dash) : core;
  const prerelease = dash >= 0 ? core.slice(dash) : '';
  const parts = release.split('.').map((p) => String(Number.parseInt(p, 10)));
  while (parts.length < 3) parts.push('0');
  if (parts.length === 4 && parts[3] === '0') parts.pop();
  return parts.join('.') + prerelease + (stripMetadata ? '' : metadata);
}

/** True for a SemVer 2.0.0 version: a dot-separated prerelease label or build metadata. */
export function isSemVer2(version: string): boolean {
  if (version.includes('+')) return true;
  const dash = version.indexOf('-');
  return dash >= 0 && version.slice(dash + 1).includes('.');
}

export function isPrerelease(version: string): boolean {
  const plus = version.indexOf('+');
  return (plus >= 0 ? version.slice(0, plus) : version).includes('-');
}

function sha512Base64(bytes: Uint8Array): string {
  return createHash('sha512').update(bytes).digest('base64');
}

function fromNuspec(nuspecXml: string, nupkgPath: string, size: number, sha512: string): LocalPackage {
  const parsed = parseNuspec(nuspecXml);
  return {
    id: parsed.id,
    lowerId: parsed.id.toLowerCase(),
    version: parsed.version,
    lowerVersion: normalizeVersion(parsed.version, true).toLowerCase(),
    normalizedVersion: normalizeVersion(parsed.version),
    nupkgPath,
    size,
    sha512,
    nuspecXml,
    dependencyGroups: parsed.dependencyGroups,
    metadata: parsed.metadata,
  };
}

/**
 * Every package under `root` (global-packages layout), sorted by id then version.
 * The sha512 is read from the `.nupkg.sha512` file that NuGet wrote; `verifyHashes` re-hashes the nupkg and throws on a mismatch.
 */
export async function loadPackages(root: string = DEFAULT_PACKAGES_ROOT, opts: { verifyHashes?: boolean } = {}): Promise<LocalPackage[]> {
  const out: LocalPackage[] = [];
  const idDirs = await readdir(root, { withFileTypes: true }).catch((err: unknown) => {
    throw new Error(`cannot read the test package store ${root}: ${String(err)}`);
  });
  for (const idDir of idDirs) {
    if (!idDir.isDirectory()) continue;
    const versionDirs = await readdir(join(root, idDir.name), { withFileTypes: true });
    for (const vDir of versionDirs) {
      if (!vDir.isDirectory()) continue;
      const dir = join(root, idDir.name, vDir.name);
      const base = `${idDir.name}.${vDir.name}`;
      const nupkgPath = join(dir, `${base}.nupkg`);
      const [nuspecXml, sha512Text, st] = await Promise.all([
        readFile(join(dir, `${idDir.name}.nuspec`), 'utf8'),
        readFile(join(dir, `${base}.nupkg.sha512`), 'utf8'),
        stat(nupkgPath),
      ]);
      const sha512 = sha512Text.trim();
      if (opts.verifyHashes === true) {
        const actual = sha512Base64(await readFile(nupkgPath));
        if (actual !== sha512) throw new Error(`${nupkgPath}: sha512 file says ${sha512}, content hashes to ${actual}`);
      }
      out.push(fromNuspec(nuspecXml, nupkgPath, st.size, sha512));
    }
  }
  if (out.length === 0) throw new Error(`no packages found under ${root}`);
  return out.sort((a, b) => (a.lowerId < b.lowerId ? -1 : a.lowerId > b.lowerId ? 1 : compareVersions(a.version, b.version)));
}

/** Reads a loose .nupkg (not in the global-packages layout): its nuspec comes from inside the zip, its hash is computed. */
export async function loadPackageFromNupkg(nupkgPath: string): Promise<LocalPackage> {
  const bytes = await readFile(nupkgPath);
  const entries = unzipSync(bytes, { filter: (f) => !f.name.includes('/') && f.name.toLowerCase().endsWith('.nuspec') });
  const names = Object.keys(entries);
  const first = names[0];
  if (first === undefined || names.length !== 1) {
    throw new Error(`${nupkgPath}: expected exactly one root .nuspec, found ${names.length}`);
  }
  const nuspec = entries[first];
  if (nuspec === undefined) throw new Error(`${nupkgPath}: cannot read ${first}`);
  return fromNuspec(new TextDecoder().decode(nuspec), nupkgPath, bytes.length, sha512Base64(bytes));
}

/** Hashes a file the way NuGet does for `.nupkg.sha512` (base64 SHA-512). */
export async function sha512OfFile(path: string): Promise<string> {
  return sha512Base64(await readFile(path));
}

/** Finds a package by id (case-insensitive) and, optionally, version. Throws with the list of known ids when absent. */
export function findPackage(packages: readonly LocalPackage[], id: string, version?: string): LocalPackage {
  const lower = id.toLowerCase();
  const hit = packages.find(
    (p) => p.lowerId === lower && (version === undefined || p.lowerVersion === normalizeVersion(version, true).toLowerCase()),
  );
  if (hit === undefined) {
    throw new Error(`package ${id}${version === undefined ? '' : ` ${version}`} not in the test store (have: ${packages.map((p) => `${p.id} ${p.version}`).join(', ')})`);
  }
  return hit;
}

/**
 * SemVer 2.0.0 precedence with NuGet's twists: numeric parts compared as numbers (a 4th part counts), prerelease
 * labels compared case-insensitively, build metadata ignored. Returns <0, 0 or >0.
 */
export function compareVersions(a: string, b: string): number {
  const split = (v: string): { nums: number[]; pre: string[] } => {
    const core = normalizeVersion(v, true);
    const dash = core.indexOf('-');
    const nums = (dash >= 0 ? core.slice(0, dash) : core).split('.').map((p) => Number.parseInt(p, 10));
    while (nums.length < 4) nums.push(0);
    return { nums, pre: dash >= 0 ? core.slice(dash + 1).split('.') : [] };
  };
  const x = split(a);
  const y = split(b);
  for (let i = 0; i < 4; i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) {
      const d = Number(p) - Number(q);
      if (d !== 0) return d;
    } else if (pn !== qn) {
      return pn ? -1 : 1;
    } else {
      const pl = p.toLowerCase();
      const ql = q.toLowerCase();
      if (pl !== ql) return pl < ql ? -1 : 1;
    }
  }
  return 0;
}
