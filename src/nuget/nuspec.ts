/**
 * Reads the parts of a .nuspec manifest the proxy needs (search, registration, push validation).
 * Schema: https://learn.microsoft.com/nuget/reference/nuspec. Element lookups follow NuGet.Packaging's
 * NuspecCoreReaderBase/NuspecReader: case-sensitive local names, first element wins, namespaces ignored.
 */
import { XMLParser } from 'fast-xml-parser';
import { isValidId } from './id.ts';
import { parseVersion } from './version.ts';

export interface Nuspec {
  id: string;
  /** The version as written in the nuspec (not normalized). */
  version: string;
  title?: string;
  description?: string;
  authors?: string;
  dependencyGroups: Array<{ targetFramework?: string; dependencies: Array<{ id: string; range?: string }> }>;
  /** `<packageTypes>` names as written; empty when the nuspec declares none (NuGet then assumes "Dependency"). */
  packageTypes: string[];
  /** Path of the readme file inside the package. */
  readme?: string;
  /** Path of the icon file inside the package. */
  icon?: string;
  /** Only for `<license type="expression">`; file licenses are not reported here. */
  licenseExpression?: string;
  projectUrl?: string;
  tags?: string;
  summary?: string;
  /** Legacy `<licenseUrl>` and `<iconUrl>`: links the author chose, shown by clients as they are. */
  licenseUrl?: string;
  iconUrl?: string;
  /** The `minClientVersion` attribute of `<metadata>`. */
  minClientVersion?: string;
}

/** A package (or its manifest) that NuGet clients would refuse. */
export class InvalidPackageError extends Error {
  readonly code = 'INVALID_PACKAGE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InvalidPackageError';
  }
}

const ATTR = '@_';
const TEXT = '#text';

// parseTagValue:false keeps "<version>1.10</version>" a string (the default turns it into the number 1.1).
// Entity handling stays at the library defaults: no HTML entities, DOCTYPE entities capped in count and size.
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: TEXT,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
});

type XmlNode = Record<string, unknown>;

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Repeated elements come back as arrays, single ones as values; absent ones as undefined. */
function all(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function first(value: unknown): unknown {
  return all(value)[0];
}

/** An element's trimmed text, or undefined when it is absent or empty. */
function textOf(value: unknown): string | undefined {
  const raw = isNode(value) ? value[TEXT] : value;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  return text === '' ? undefined : text;
}

function attrOf(node: unknown, name: string): string | undefined {
  if (!isNode(node)) return undefined;
  const raw = node[ATTR + name];
  if (typeof raw !== 'string') return undefined;
  return raw.trim() === '' ? undefined : raw;
}

function children(node: unknown, name: string): unknown[] {
  return isNode(node) ? all(node[name]) : [];
}

function decode(xml: string | Uint8Array): string {
  if (typeof xml === 'string') return xml.startsWith('\uFEFF') ? xml.slice(1) : xml;
  // XML may be UTF-16 when it starts with a byte order mark; otherwise it is UTF-8. TextDecoder drops the BOM.
  const encoding = xml[0] === 0xff && xml[1] === 0xfe ? 'utf-16le' : xml[0] === 0xfe && xml[1] === 0xff ? 'utf-16be' : 'utf-8';
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(xml);
  } catch (err) {
    throw new InvalidPackageError(`nuspec is not valid ${encoding}`, { cause: err });
  }
}

function parseDocument(text: string): XmlNode {
  let doc: unknown;
  try {
    // `true` runs the library's well-formedness check first, so truncated or broken XML is rejected, not guessed at.
    doc = parser.parse(text, true);
  } catch (err) {
    throw new InvalidPackageError(`nuspec is not well-formed XML: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!isNode(doc)) throw new InvalidPackageError('nuspec is not well-formed XML');
  return doc;
}

type DependencyGroup = Nuspec['dependencyGroups'][number];
type OptionalField = 'title' | 'description' | 'authors' | 'readme' | 'icon' | 'licenseExpression' | 'projectUrl' | 'tags' | 'summary' | 'licenseUrl' | 'iconUrl' | 'minClientVersion';

function readDependency(node: unknown): DependencyGroup['dependencies'][number] | undefined {
  const id = attrOf(node, 'id')?.trim();
  // A <dependency> without an id names nothing; skip it instead of failing the whole package.
  if (id === undefined) return undefined;
  const range = attrOf(node, 'version');
  return range === undefined ? { id } : { id, range };
}

function readDependencies(nodes: unknown[]): DependencyGroup['dependencies'] {
  return nodes.map(readDependency).filter((d) => d !== undefined);
}

/**
 * `<dependencies>` holds either `<group targetFramework>` elements or, in old nuspecs, bare `<dependency>` elements.
 * As in NuspecReader.GetDependencyGroups, the flat list is only read when there are no groups, and becomes one
 * group without a target framework.
 */
function readDependencyGroups(metadata: XmlNode): DependencyGroup[] {
  const containers = all(metadata['dependencies']);
  const groups = containers.flatMap((c) => children(c, 'group'));
  if (groups.length > 0) {
    return groups.map((group) => {
      const targetFramework = attrOf(group, 'targetFramework');
      const dependencies = readDependencies(children(group, 'dependency'));
      return targetFramework === undefined ? { dependencies } : { targetFramework, dependencies };
    });
  }
  const flat = readDependencies(containers.flatMap((c) => children(c, 'dependency')));
  return flat.length > 0 ? [{ dependencies: flat }] : [];
}

function readPackageTypes(metadata: XmlNode): string[] {
  return all(metadata['packageTypes'])
    .flatMap((c) => children(c, 'packageType'))
    .map((node) => attrOf(node, 'name')?.trim())
    .filter((name) => name !== undefined);
}

/**
 * Parses a nuspec. Throws InvalidPackageError unless the document is `<package><metadata>` with an `<id>` that
 * passes the package id rules and a `<version>` that parses as a NuGet version.
 * @example parseNuspec('<package><metadata><id>A</id><version>1.10</version></metadata></package>').version // '1.10'
 */
export function parseNuspec(xml: string | Uint8Array): Nuspec {
  const doc = parseDocument(decode(xml));
  const metadata = first(children(first(doc['package']), 'metadata'));
  if (!isNode(metadata)) throw new InvalidPackageError('nuspec has no <package><metadata> element');

  const id = textOf(first(metadata['id']));
  if (id === undefined) throw new InvalidPackageError('nuspec has no <id>');
  if (!isValidId(id)) throw new InvalidPackageError(`nuspec <id> is not a valid package id: ${JSON.stringify(id.slice(0, 120))}`);
  const version = textOf(first(metadata['version']));
  if (version === undefined) throw new InvalidPackageError('nuspec has no <version>');
  if (parseVersion(version) === undefined) {
    throw new InvalidPackageError(`nuspec <version> is not a NuGet version: ${JSON.stringify(version.slice(0, 120))}`);
  }

  const nuspec: Nuspec = {
    id,
    version,
    dependencyGroups: readDependencyGroups(metadata),
    packageTypes: readPackageTypes(metadata),
  };
  // Absent fields are left out rather than set to undefined, so the object serializes and compares cleanly.
  const optional: Array<[OptionalField, string | undefined]> = [
    ['title', textOf(first(metadata['title']))],
    ['description', textOf(first(metadata['description']))],
    ['authors', textOf(first(metadata['authors']))],
    ['readme', textOf(first(metadata['readme']))],
    ['icon', textOf(first(metadata['icon']))],
    ['licenseExpression', readLicenseExpression(first(metadata['license']))],
    ['projectUrl', textOf(first(metadata['projectUrl']))],
    ['tags', textOf(first(metadata['tags']))],
    ['summary', textOf(first(metadata['summary']))],
    ['licenseUrl', textOf(first(metadata['licenseUrl']))],
    ['iconUrl', textOf(first(metadata['iconUrl']))],
    ['minClientVersion', attrOf(metadata, 'minClientVersion')?.trim()],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined) nuspec[key] = value;
  }
  return nuspec;
}

function readLicenseExpression(license: unknown): string | undefined {
  return attrOf(license, 'type') === 'expression' ? textOf(license) : undefined;
}
