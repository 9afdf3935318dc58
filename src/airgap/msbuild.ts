/**
 * Package references in MSBuild files, as far as a prefetch needs them (no MSBuild evaluation):
 * - projects (.csproj/.fsproj/.vbproj): `<PackageReference Include Version>` (Version also as a child element,
 *   VersionOverride honoured), `<PackageDownload>`; without a version, the `<PackageVersion>` of the nearest
 *   Directory.Packages.props (central package management,
 *   https://learn.microsoft.com/nuget/consume-packages/central-package-management);
 * - Directory.Packages.props: every `<PackageVersion>` and `<GlobalPackageReference>`;
 * - solutions: the project paths of a .sln (text) or .slnx (XML).
 * `$(Name)` in a version is replaced by a property defined in the same file; anything else unresolved fails by name.
 */
import { readFile, access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { parseVersionSpec, type Requirement } from './spec.ts';

const ATTR = '@_';
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: ATTR, removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false, trimValues: true });

type Node = Record<string, unknown>;

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every element named `name` (case-insensitive, as MSBuild compares item types) anywhere below `node`. */
function elements(node: unknown, name: string, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const n of node) elements(n, name, out);
    return out;
  }
  if (!isNode(node)) return out;
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith(ATTR)) continue;
    if (key.toLowerCase() === name.toLowerCase()) for (const v of Array.isArray(value) ? value : [value]) out.push(isNode(v) ? v : { '#text': v });
    elements(value, name, out);
  }
  return out;
}

/** An attribute or a child element of the same name (MSBuild metadata may be either), trimmed. */
function metadata(node: Node, name: string): string | undefined {
  for (const [key, value] of Object.entries(node)) {
    const bare = key.startsWith(ATTR) ? key.slice(ATTR.length) : key;
    if (bare.toLowerCase() !== name.toLowerCase()) continue;
    const text = isNode(value) ? value['#text'] : value;
    if (typeof text === 'string' && text.trim() !== '') return text.trim();
  }
  return undefined;
}

export class InputError extends Error {}

async function parseXmlFile(path: string): Promise<Node> {
  const text = await readFile(path, 'utf8');
  try {
    const doc: unknown = parser.parse(text.replace(/^\uFEFF/, ''), true);
    if (!isNode(doc)) throw new Error('no root element');
    return doc;
  } catch (err) {
    throw new InputError(`${path}: not well-formed XML (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Properties defined in the file's PropertyGroups, for `$(Name)` in versions. */
function properties(doc: Node): Map<string, string> {
  const props = new Map<string, string>();
  for (const group of elements(doc, 'PropertyGroup')) {
    for (const [key, value] of Object.entries(group)) {
      if (key.startsWith(ATTR)) continue;
      const text = isNode(value) ? value['#text'] : value;
      if (typeof text === 'string') props.set(key.toLowerCase(), text.trim());
    }
  }
  return props;
}

function expand(text: string | undefined, props: Map<string, string>): string | undefined {
  return text?.replace(/\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string) => props.get(name.toLowerCase()) ?? whole);
}

function requirement(id: string, version: string | undefined, from: string): Requirement {
  if (version?.includes('$(')) throw new InputError(`${from}: ${id} has a version nugate cannot evaluate (${version})`);
  const spec = parseVersionSpec(version);
  if (spec === undefined) throw new InputError(`${from}: ${id} has an invalid version "${version ?? ''}"`);
  return { id, spec, from };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The Directory.Packages.props MSBuild would import for a project: the nearest one in its folder or above. */
async function centralPropsFor(projectDir: string): Promise<string | undefined> {
  for (let dir = resolve(projectDir); ; dir = dirname(dir)) {
    const candidate = join(dir, 'Directory.Packages.props');
    if (await exists(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** PackageVersion entries of a Directory.Packages.props: lowercase id → version text. */
async function centralVersions(path: string): Promise<Map<string, string>> {
  const doc = await parseXmlFile(path);
  const props = properties(doc);
  const out = new Map<string, string>();
  for (const el of elements(doc, 'PackageVersion')) {
    const id = metadata(el, 'Include');
    const version = expand(metadata(el, 'Version'), props);
    if (id !== undefined && version !== undefined) out.set(id.toLowerCase(), version);
  }
  return out;
}

export async function readProject(path: string): Promise<Requirement[]> {
  const doc = await parseXmlFile(path);
  const props = properties(doc);
  const refs = [...elements(doc, 'PackageReference'), ...elements(doc, 'PackageDownload')];
  let central: Map<string, string> | undefined;
  const out: Requirement[] = [];
  for (const el of refs) {
    const id = metadata(el, 'Include');
    if (id === undefined) continue; // `Update=` items change metadata of a reference made elsewhere.
    let version = expand(metadata(el, 'VersionOverride') ?? metadata(el, 'Version'), props);
    if (version === undefined) {
      if (central === undefined) {
        const propsFile = await centralPropsFor(dirname(path));
        central = propsFile === undefined ? new Map() : await centralVersions(propsFile);
      }
      version = central.get(id.toLowerCase());
    }
    out.push(requirement(id, version, path));
  }
  return out;
}

export async function readCentralProps(path: string): Promise<Requirement[]> {
  const doc = await parseXmlFile(path);
  const props = properties(doc);
  const out: Requirement[] = [];
  for (const el of [...elements(doc, 'PackageVersion'), ...elements(doc, 'GlobalPackageReference')]) {
    const id = metadata(el, 'Include');
    if (id !== undefined) out.push(requirement(id, expand(metadata(el, 'Version'), props), path));
  }
  return out;
}

const PROJECT_FILE = /\.(cs|fs|vb)proj$/i;

/** Absolute paths of the projects a .sln or .slnx names. */
export async function solutionProjects(path: string): Promise<string[]> {
  const dir = dirname(path);
  const paths: string[] = [];
  if (/\.slnx$/i.test(path)) {
    const doc = await parseXmlFile(path);
    for (const el of elements(doc, 'Project')) {
      const p = metadata(el, 'Path');
      if (p !== undefined) paths.push(p);
    }
  } else {
    const text = await readFile(path, 'utf8');
    // Project("{type-guid}") = "Name", "relative\path.csproj", "{project-guid}"
    for (const m of text.matchAll(/^\s*Project\("[^"]*"\)\s*=\s*"[^"]*"\s*,\s*"([^"]+)"/gm)) if (m[1] !== undefined) paths.push(m[1]);
  }
  return paths.filter((p) => PROJECT_FILE.test(p)).map((p) => resolve(dir, p.replace(/\\/g, '/')));
}
