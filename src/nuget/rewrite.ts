/**
 * Pure URL rewriting (design.md §2): upstream resource bases → nugate bases, in single URLs and in whole JSON
 * documents. Also the raw-string URL helpers that service-index.ts shares.
 *
 * Works on raw strings on purpose: WHATWG `URL` would percent-encode template braces (`{id}` → `%7Bid%7D`) and
 * re-serialise paths, and feed URLs must come out exactly as they went in apart from the swapped prefix.
 */

export interface RewriteRule {
  /** Upstream URL prefix, absolute http(s). */
  from: string;
  /** Replacement prefix. */
  to: string;
  /**
   * When set, replaces the whole URL instead of swapping the prefix: receives what follows `from` (path, query) and
   * returns the new URL (links that must not be built from a client-chosen path, src/sources/links.ts).
   */
  map?: (rest: string) => string;
}

export interface RewriteTable {
  /** Longest `from` first. */
  readonly rules: readonly RewriteRule[];
}

// ---------------------------------------------------------------------------------------------------------
// URL string helpers

const ABSOLUTE_HTTP = /^https?:\/\//i;

/** True for an absolute http(s) URL with a host (what the client accepts as a resource `@id`). */
export function isAbsoluteHttpUrl(value: string): boolean {
  if (!ABSOLUTE_HTTP.test(value)) return false;
  try {
    return new URL(value).host !== '';
  } catch {
    return false;
  }
}

export interface UrlParts {
  /** `scheme://authority`, lowercased, default port dropped: the part compared case-insensitively. */
  readonly origin: string;
  /** Everything after the authority (path, query, fragment), untouched: compared case-sensitively. */
  readonly rest: string;
}

/** Splits an absolute http(s) URL at the end of its authority; undefined for anything else. */
export function splitHttpUrl(value: string): UrlParts | undefined {
  const scheme = ABSOLUTE_HTTP.exec(value);
  if (scheme === null) return undefined;
  const start = scheme[0].length;
  const tail = value.slice(start).search(/[/?#]/);
  const end = tail === -1 ? value.length : start + tail;
  if (end === start) return undefined;
  const lowerScheme = scheme[0].toLowerCase();
  let authority = value.slice(start, end).toLowerCase();
  // RFC 3986 §6.2.3: an explicit default port names the same origin.
  if (lowerScheme === 'https://' && authority.endsWith(':443')) authority = authority.slice(0, -4);
  if (lowerScheme === 'http://' && authority.endsWith(':80')) authority = authority.slice(0, -3);
  return { origin: lowerScheme + authority, rest: value.slice(end) };
}

/** The URL without `?query` and `#fragment`. */
export function stripQueryAndFragment(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** `…/catalog0/index.json` → `…/catalog0/`. A URL whose last path segment has no dot comes back unchanged (minus query). */
export function directoryOf(url: string): string {
  const clean = stripQueryAndFragment(url);
  const parts = splitHttpUrl(clean);
  if (parts === undefined) return clean;
  const pathStart = clean.length - parts.rest.length;
  const slash = clean.lastIndexOf('/');
  if (slash < pathStart || !clean.slice(slash + 1).includes('.')) return clean;
  return clean.slice(0, slash + 1);
}

// ---------------------------------------------------------------------------------------------------------
// Rewrite table

interface CompiledRule {
  readonly rule: RewriteRule;
  readonly origin: string;
  readonly path: string;
  readonly to: string;
}

const compiledTables = new WeakMap<RewriteTable, readonly CompiledRule[]>();

/** Validates every rule (naming the bad one) and orders them longest normalised `from` first (stable). */
function compileRules(rules: readonly RewriteRule[]): CompiledRule[] {
  const compiled = rules.map((rule, i): CompiledRule => {
    const parts = typeof rule.from === 'string' ? splitHttpUrl(rule.from) : undefined;
    if (parts === undefined) {
      throw new TypeError(`expected rules[${i}].from to be an absolute http(s) URL, got ${JSON.stringify(rule.from)}`);
    }
    if (typeof rule.to !== 'string' || rule.to === '') {
      throw new TypeError(`expected rules[${i}].to to be a non-empty string, got ${JSON.stringify(rule.to)}`);
    }
    return { rule: Object.freeze({ ...rule }), origin: parts.origin, path: parts.rest, to: rule.to };
  });
  return compiled.sort((a, b) => b.origin.length + b.path.length - (a.origin.length + a.path.length));
}

function compiledOf(table: RewriteTable): readonly CompiledRule[] {
  let compiled = compiledTables.get(table);
  if (compiled === undefined) {
    // A table built by hand rather than by compileRewrite is compiled on first use.
    compiled = compileRules(table.rules);
    compiledTables.set(table, compiled);
  }
  return compiled;
}

/**
 * Builds a rewrite table. Rules are tried longest `from` first. Scheme and host compare case-insensitively, the
 * path case-sensitively. A `from` ending in '/' also matches that URL without the slash, exactly (plus an optional
 * query or fragment): "https://h/v3-flatcontainer" for "https://h/v3-flatcontainer/". Throws TypeError on a
 * `from` that is not an absolute http(s) URL or an empty `to`.
 *
 * @example
 * const table = compileRewrite([{ from: 'https://api.nuget.org/v3-flatcontainer/', to: 'https://proxy.test/v3/flatcontainer/' }]);
 * rewriteUrl('https://API.nuget.org/v3-flatcontainer/x/index.json', table); // 'https://proxy.test/v3/flatcontainer/x/index.json'
 */
export function compileRewrite(rules: RewriteRule[]): RewriteTable {
  const compiled = compileRules(rules);
  const table: RewriteTable = Object.freeze({ rules: Object.freeze(compiled.map((c) => c.rule)) });
  compiledTables.set(table, compiled);
  return table;
}

function applyRules(parts: UrlParts, rules: readonly CompiledRule[]): string | undefined {
  for (const rule of rules) {
    if (rule.origin !== parts.origin) continue;
    if (parts.rest.startsWith(rule.path)) {
      const rest = parts.rest.slice(rule.path.length);
      return rule.rule.map ? rule.rule.map(rest) : rule.to + rest;
    }
    // The slash-less form of a directory base: ".../v3-flatcontainer" or ".../v3-flatcontainer?x".
    if (rule.path.endsWith('/')) {
      const bare = rule.path.slice(0, -1);
      const after = parts.rest.slice(bare.length);
      if (parts.rest.startsWith(bare) && (after === '' || after.startsWith('?') || after.startsWith('#'))) {
        if (rule.rule.map) return rule.rule.map(after);
        return (rule.to.endsWith('/') ? rule.to.slice(0, -1) : rule.to) + after;
      }
    }
  }
  return undefined;
}

/** Rewrites one URL; returns it unchanged when no rule matches. Query and `#fragment` are kept. */
export function rewriteUrl(url: string, table: RewriteTable): string {
  const parts = splitHttpUrl(url);
  if (parts === undefined) return url;
  return applyRules(parts, compiledOf(table)) ?? url;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Rewrites, in a JSON value the caller owns (just parsed from an upstream body), every string value (never a key)
 * that is an absolute URL under a rule's `from`, where it stands: no copy of the document (the miss path parses
 * once and rewrites once). Everything else passes through: numbers, booleans, null, unknown fields, `@type` arrays,
 * `urn:uuid:` ids. Iterative, so deep input cannot overflow the stack. Returns the same value.
 */
export function rewriteJsonInPlace<T>(value: T, table: RewriteTable): T {
  const rules = compiledOf(table);
  const rewrite = (v: string): string => {
    const parts = splitHttpUrl(v);
    return parts === undefined ? v : (applyRules(parts, rules) ?? v);
  };
  if (typeof value === 'string') return rewrite(value) as T;
  const work: unknown[] = [value];
  const seen = new Set<object>();
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    seen.add(item);
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        const v: unknown = item[i];
        if (typeof v === 'string') item[i] = rewrite(v);
        else if (typeof v === 'object' && v !== null) work.push(v);
      }
    } else if (isPlainObject(item)) {
      for (const key of Object.keys(item)) {
        const v = item[key];
        // An own data property (JSON's "__proto__" included) is written, never a prototype setter.
        if (typeof v === 'string') Object.defineProperty(item, key, { value: rewrite(v), writable: true, enumerable: true, configurable: true });
        else if (typeof v === 'object' && v !== null) work.push(v);
      }
    }
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// Leak detection (protocol.md §5 item 2: "leak-free = no upstream host string anywhere in the body")

const LEAK_CONTEXT = 40;

/**
 * Every occurrence of any origin (case-insensitive) in `text`, each with up to 40 characters of context either
 * side, in text order. `[]` when clean.
 *
 * @example
 * findLeaks(body, ['https://api.nuget.org']) // ['…"packageContent":"https://api.nuget.org/v3-flatcontainer/…']
 */
export function findLeaks(text: string, origins: string[]): string[] {
  const needles = [...new Set(origins.filter((o) => o !== ''))].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return [];
  const pattern = new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gi');
  const leaks: string[] = [];
  for (const m of text.matchAll(pattern)) {
    const start = m.index;
    leaks.push(text.slice(Math.max(0, start - LEAK_CONTEXT), start + m[0].length + LEAK_CONTEXT));
  }
  return leaks;
}
