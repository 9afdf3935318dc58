/**
 * `nugate config import NuGet.Config`: turn a client's NuGet.Config into nugate upstreams and a
 * packageSourceMapping, so the proxy enforces the same routing for every developer (anchors.md §5 item 2).
 *
 * File format: https://learn.microsoft.com/nuget/reference/nuget-config-file
 * Secrets never reach the output: credentials become references to environment variables that the
 * operator fills in, listed in `env`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isJsonObject } from '../nuget/json.ts';

export interface ImportedConfig {
  upstreams: Array<{ name: string; url: string; auth?: { type: 'basic'; usernameEnv: string; passwordEnv: string } }>;
  packageSourceMapping?: Record<string, string[]>;
  env: Array<{ name: string; description: string }>;
  warnings: string[];
}

/** The upstream-name rule of src/config/schema.ts. */
const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

interface Source {
  key: string;
  url: string;
  protocolVersion: string | undefined;
}

interface Credential {
  hasUsername: boolean;
  passwordKind: 'clear' | 'encrypted' | undefined;
  authTypes: string | undefined;
}

/**
 * Reads a NuGet.Config document. Throws an Error when the XML is malformed or the root is not
 * `<configuration>`; everything else that cannot be imported becomes a warning.
 *
 * @example
 * const imported = importNuGetConfig(readFileSync('NuGet.Config', 'utf8'));
 * for (const w of imported.warnings) console.warn(w);
 */
export function importNuGetConfig(xml: string): ImportedConfig {
  const root = parseXml(xml);
  const warnings: string[] = [];

  const sources = readSources(sectionsNamed(root, 'packageSources'), warnings);
  const disabled = readDisabled(sectionsNamed(root, 'disabledPackageSources'));
  const credentials = readCredentials(sectionsNamed(root, 'packageSourceCredentials'));
  const mapping = readMapping(sectionsNamed(root, 'packageSourceMapping'));

  const upstreams: ImportedConfig['upstreams'] = [];
  const env: ImportedConfig['env'] = [];
  /** Lowercased NuGet source key -> sanitized upstream name, for kept sources only. */
  const nameOf = new Map<string, string>();
  const usedNames = new Set<string>();
  const usedEnv = new Set<string>();

  for (const source of sources) {
    const lowerKey = source.key.toLowerCase();
    if (disabled.has(lowerKey)) {
      warnings.push(`source "${source.key}" skipped: it is disabled in <disabledPackageSources>`);
      continue;
    }
    const url = parseHttpUrl(source.url);
    if (url === undefined) {
      warnings.push(`source "${source.key}" (${source.url}) skipped: local folder and file-share sources are not supported, nugate proxies HTTP(S) V3 feeds only`);
      continue;
    }
    // NuGet itself treats a source as V3 when its URL ends with index.json or protocolVersion="3".
    if (!url.pathname.toLowerCase().endsWith('index.json') && source.protocolVersion?.trim() !== '3') {
      warnings.push(`source "${source.key}" (${redact(url)}) skipped: looks like a V2 feed (no index.json, no protocolVersion="3"), nugate proxies V3 feeds only`);
      continue;
    }

    const name = uniqueName(sanitizeName(source.key), usedNames);
    if (name !== source.key) warnings.push(`source "${source.key}" renamed to upstream "${name}" (names must match ${UPSTREAM_NAME.source})`);
    nameOf.set(lowerKey, name);

    const credential = credentials.get(lowerKey);
    const urlHadUserInfo = url.username !== '' || url.password !== '';
    if (urlHadUserInfo) {
      // Credentials embedded in the URL are secrets too: strip them rather than copy them out.
      url.username = '';
      url.password = '';
      warnings.push(`source "${source.key}": credentials embedded in the URL were removed; supply them through the environment variables below`);
    }

    const upstream: ImportedConfig['upstreams'][number] = { name, url: url.href };
    if (credential !== undefined || urlHadUserInfo) {
      const base = uniqueEnvBase(`NUGATE_${envSegment(name)}`, usedEnv);
      const usernameEnv = `${base}_USERNAME`;
      const passwordEnv = `${base}_PASSWORD`;
      upstream.auth = { type: 'basic', usernameEnv, passwordEnv };
      env.push({ name: usernameEnv, description: `Username for upstream "${name}" (NuGet.Config source "${source.key}")` });
      env.push({
        name: passwordEnv,
        description:
          credential?.passwordKind === 'encrypted'
            ? `Password or access token for upstream "${name}" (NuGet.Config stored it encrypted, which only decrypts for the user and machine that wrote it: supply it in clear here)`
            : `Password or access token for upstream "${name}" (NuGet.Config source "${source.key}")`,
      });
      if (credential !== undefined && !credential.hasUsername) {
        warnings.push(`source "${source.key}": credentials have no Username; many feeds accept any username with an access token`);
      }
      if (credential !== undefined && credential.passwordKind === undefined) {
        warnings.push(`source "${source.key}": credentials have no Password or ClearTextPassword`);
      }
      const types = credential?.authTypes;
      if (types !== undefined && !types.split(',').some((t) => t.trim().toLowerCase() === 'basic')) {
        warnings.push(`source "${source.key}": ValidAuthenticationTypes is "${types}", but nugate authenticates to upstreams with Basic only`);
      }
    }
    upstreams.push(upstream);
  }

  for (const key of credentials.keys()) {
    if (!sources.some((s) => s.key.toLowerCase() === key)) {
      warnings.push(`credentials for "${key}" ignored: no package source has that name`);
    }
  }

  const imported: ImportedConfig = { upstreams, env, warnings };
  const packageSourceMapping = translateMapping(mapping, nameOf, warnings);
  if (packageSourceMapping !== undefined) imported.packageSourceMapping = packageSourceMapping;
  if (upstreams.length === 0) warnings.push('no usable source found: the imported configuration has no upstream');
  return imported;
}

// ---------------------------------------------------------------------------------------------
// XML

function parseXml(xml: string): XmlElement {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new Error(`NuGet.Config is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  }
  const parser = new XMLParser({
    preserveOrder: true, // <clear/> only clears what comes before it, so document order matters
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  const parsed: unknown = parser.parse(xml);
  const top = toElements(parsed);
  const root = top.find((e) => e.name.toLowerCase() === 'configuration');
  if (root === undefined) throw new Error('NuGet.Config has no <configuration> root element');
  return root;
}

/** Converts fast-xml-parser's preserveOrder output (`[{ tag: [...children], ':@': {attrs} }, { '#text': ... }]`). */
function toElements(nodes: unknown): XmlElement[] {
  if (!Array.isArray(nodes)) return [];
  const out: XmlElement[] = [];
  for (const node of nodes) {
    if (!isJsonObject(node)) continue;
    const attrsRaw = node[':@'];
    const attrs: Record<string, string> = {};
    if (isJsonObject(attrsRaw)) {
      for (const [k, v] of Object.entries(attrsRaw)) if (typeof v === 'string') attrs[k] = v;
    }
    for (const [name, children] of Object.entries(node)) {
      if (name === ':@' || name === '#text' || name.startsWith('?') || name.startsWith('!')) continue;
      out.push({ name, attrs, children: toElements(children) });
    }
  }
  return out;
}


/** Section and attribute names are read case-insensitively: hand-edited files vary. */
function sectionsNamed(root: XmlElement, name: string): XmlElement[] {
  const lower = name.toLowerCase();
  return root.children.filter((c) => c.name.toLowerCase() === lower);
}

function attr(element: XmlElement, name: string): string | undefined {
  const exact = element.attrs[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(element.attrs)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function is(element: XmlElement, name: string): boolean {
  return element.name.toLowerCase() === name.toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Sections

function readSources(sections: XmlElement[], warnings: string[]): Source[] {
  let sources: Source[] = [];
  for (const section of sections) {
    for (const item of section.children) {
      if (is(item, 'clear')) {
        sources = [];
      } else if (is(item, 'add')) {
        const key = attr(item, 'key')?.trim();
        const url = attr(item, 'value')?.trim();
        if (key === undefined || key === '' || url === undefined || url === '') {
          warnings.push('<packageSources>: an <add> without key or value was ignored');
          continue;
        }
        const source: Source = { key, url, protocolVersion: attr(item, 'protocolVersion') };
        // A later <add> with the same key replaces the earlier one (keys are case-insensitive in NuGet).
        const at = sources.findIndex((s) => s.key.toLowerCase() === key.toLowerCase());
        if (at === -1) sources.push(source);
        else sources[at] = source;
      }
    }
  }
  return sources;
}

function readDisabled(sections: XmlElement[]): Set<string> {
  const disabled = new Set<string>();
  for (const section of sections) {
    for (const item of section.children) {
      if (is(item, 'clear')) disabled.clear();
      else if (is(item, 'add')) {
        const key = attr(item, 'key')?.trim().toLowerCase();
        if (key === undefined) continue;
        if (attr(item, 'value')?.trim().toLowerCase() === 'true') disabled.add(key);
        else disabled.delete(key);
      }
    }
  }
  return disabled;
}

/** Keys are lowercased source names; element names were encoded with XmlConvert.EncodeLocalName. */
function readCredentials(sections: XmlElement[]): Map<string, Credential> {
  const credentials = new Map<string, Credential>();
  for (const section of sections) {
    for (const element of section.children) {
      if (is(element, 'clear')) {
        credentials.clear();
        continue;
      }
      const credential: Credential = { hasUsername: false, passwordKind: undefined, authTypes: undefined };
      for (const item of element.children) {
        if (!is(item, 'add')) continue;
        // Only the presence of each field is recorded: the values are secrets and stay out of the output.
        const key = attr(item, 'key')?.trim().toLowerCase();
        const hasValue = (attr(item, 'value') ?? '') !== '';
        if (key === 'username' && hasValue) credential.hasUsername = true;
        else if (key === 'cleartextpassword' && hasValue) credential.passwordKind = 'clear';
        else if (key === 'password' && hasValue) credential.passwordKind ??= 'encrypted';
        else if (key === 'validauthenticationtypes') credential.authTypes = attr(item, 'value');
      }
      credentials.set(decodeXmlName(element.name).toLowerCase(), credential);
    }
  }
  return credentials;
}

/** Source key (as written) -> patterns, in document order. */
function readMapping(sections: XmlElement[]): Map<string, string[]> | undefined {
  if (sections.length === 0) return undefined;
  const mapping = new Map<string, string[]>();
  for (const section of sections) {
    for (const element of section.children) {
      if (is(element, 'clear')) {
        mapping.clear();
        continue;
      }
      if (!is(element, 'packageSource')) continue;
      const key = attr(element, 'key')?.trim();
      if (key === undefined || key === '') continue;
      const existing = [...mapping.keys()].find((k) => k.toLowerCase() === key.toLowerCase());
      const patterns = existing === undefined ? [] : (mapping.get(existing) ?? []);
      for (const item of element.children) {
        const pattern = is(item, 'package') ? attr(item, 'pattern')?.trim() : undefined;
        if (pattern !== undefined && pattern !== '' && !patterns.some((p) => p.toLowerCase() === pattern.toLowerCase())) patterns.push(pattern);
      }
      mapping.set(existing ?? key, patterns);
    }
  }
  return mapping;
}

/**
 * Rewrites mapping keys to the sanitized upstream names. Patterns of a source that was not imported are
 * dropped, and that is not neutral: an id they matched falls through to a less specific pattern (often
 * `*`) of a kept source. nugate cannot express "matched but served by nobody", so the warning says so.
 */
function translateMapping(
  mapping: Map<string, string[]> | undefined,
  nameOf: Map<string, string>,
  warnings: string[],
): Record<string, string[]> | undefined {
  if (mapping === undefined) return undefined;
  const out: Record<string, string[]> = {};
  const kept = new Set<string>();
  const dropped: Array<{ key: string; patterns: string[] }> = [];
  for (const [key, patterns] of mapping) {
    const name = nameOf.get(key.toLowerCase());
    if (patterns.length === 0) continue;
    if (name === undefined) {
      dropped.push({ key, patterns });
      continue;
    }
    out[name] = [...(out[name] ?? []), ...patterns];
    for (const p of patterns) kept.add(p.toLowerCase());
  }
  for (const { key, patterns } of dropped) {
    const orphaned = patterns.filter((p) => !kept.has(p.toLowerCase()));
    if (orphaned.length === 0) {
      warnings.push(`packageSourceMapping for "${key}" dropped: that source was not imported (its patterns are still mapped to other upstreams)`);
    } else {
      warnings.push(
        `packageSourceMapping for "${key}" dropped: that source was not imported. Ids matching ${orphaned.map((p) => `"${p}"`).join(', ')} ` +
          'may now be served through a less specific pattern of another upstream: review this before use (dependency confusion)',
      );
    }
  }
  if (Object.keys(out).length === 0) {
    if (mapping.size > 0) {
      warnings.push('packageSourceMapping had no pattern for any imported source and was left out: every upstream will serve every id');
    }
    return undefined;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Names

/** Undoes XmlConvert.EncodeLocalName: `_x0020_` is a space, `_xHHHHHHHH_` a supplementary character. */
function decodeXmlName(name: string): string {
  return name.replace(/_x([0-9A-Fa-f]{4}|[0-9A-Fa-f]{8})_/g, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)));
}

function sanitizeName(key: string): string {
  const cleaned = key
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return cleaned === '' ? 'source' : cleaned;
}

/** Upstream names compare case-insensitively (schema.ts rejects duplicates that way). */
function uniqueName(base: string, used: Set<string>): string {
  let name = base;
  for (let n = 2; used.has(name.toLowerCase()); n++) {
    const suffix = `-${n}`;
    name = base.slice(0, 64 - suffix.length) + suffix;
  }
  used.add(name.toLowerCase());
  return name;
}

function envSegment(name: string): string {
  return name
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** `a.b` and `a-b` are different upstreams but the same env segment. */
function uniqueEnvBase(base: string, used: Set<string>): string {
  let candidate = base;
  for (let n = 2; used.has(candidate); n++) candidate = `${base}_${n}`;
  used.add(candidate);
  return candidate;
}

function parseHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
}

/** For warnings: never echo embedded credentials. */
function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
