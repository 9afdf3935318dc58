/**
 * Server-side packageSourceMapping: which upstreams may serve a package id. This is nugate's
 * dependency-confusion guard (design.md §5): with `internal: ["Contoso.*"]` and `nuget.org: ["*"]`,
 * nuget.org's `Contoso.Widgets` is never seen in any resource.
 *
 * Semantics follow NuGet's own package source mapping
 * (https://learn.microsoft.com/nuget/consume-packages/package-source-mapping#package-pattern-precedence):
 * - a pattern is an exact id, or a prefix ending in `*`; a lone `*` matches every id;
 * - matching is case-insensitive;
 * - the most specific matching pattern across all sources wins: an exact id beats every prefix, a longer
 *   prefix beats a shorter one;
 * - the eligible sources are every source that declares the winning pattern;
 * - an id that no pattern matches is not served at all.
 *
 * One deliberate difference from NuGet.Client's SearchTree: there, `Foo` and `Foo*` end on the same trie
 * node and share one source list, so for the id `Foo` the sources of both are pooled. Here `Foo` (exact)
 * strictly beats `Foo*`, which is the rule NuGet documents and the one that cannot widen the set of
 * upstreams allowed to serve an id.
 */

export interface SourceMapping {
  /** False when no mapping is configured: every upstream is eligible for every id. */
  readonly mapped: boolean;
  /** Upstream names allowed to serve this id, in upstream (priority) order; [] means "not served". */
  eligible(id: string): string[];
  /** The winning pattern (undefined when unmapped or when nothing matches) and the upstreams it allows. */
  explain(id: string): { pattern: string | undefined; upstreams: string[] };
}

interface PatternEntry {
  /** The pattern as first configured, for explain(). */
  readonly spelling: string;
  /** Lowercased upstream names that declare this pattern. */
  readonly upstreams: Set<string>;
}

/** NuGet caps ids (and so patterns) at 100 characters (PackageIdValidator.MaxPackageIdLength). */
const MAX_PATTERN_LENGTH = 100;

/**
 * Compiles `packageSourceMapping` (upstream name -> patterns) against the configured upstream order.
 * Throws a TypeError naming the offending entry when a pattern is malformed or a key names no upstream:
 * a guard that silently ignores part of its configuration would fail open.
 *
 * @example
 * const m = compileMapping({ internal: ['Contoso.*'], 'nuget.org': ['*'] }, ['nuget.org', 'internal']);
 * m.eligible('contoso.widgets'); // ['internal']
 * m.eligible('Newtonsoft.Json'); // ['nuget.org']
 */
export function compileMapping(mapping: Record<string, string[]> | undefined, upstreamOrder: string[]): SourceMapping {
  const spellingOf = new Map<string, string>();
  for (const name of upstreamOrder) {
    const lower = name.toLowerCase();
    if (!spellingOf.has(lower)) spellingOf.set(lower, name);
  }
  const inOrder = (lowerNames: Set<string>): string[] =>
    [...spellingOf.entries()].filter(([lower]) => lowerNames.has(lower)).map(([, spelling]) => spelling);

  // NuGet treats a packageSourceMapping section without any pattern as "feature off" (PackageSourceMapping.IsEnabled).
  const hasPatterns = mapping !== undefined && Object.values(mapping).some((patterns) => patterns.length > 0);
  if (mapping === undefined || !hasPatterns) {
    const all = [...spellingOf.values()];
    return {
      mapped: false,
      eligible: () => [...all],
      explain: () => ({ pattern: undefined, upstreams: [...all] }),
    };
  }

  const exact = new Map<string, PatternEntry>();
  const prefixes = new Map<string, PatternEntry>();
  for (const [source, patterns] of Object.entries(mapping)) {
    const sourceLower = source.toLowerCase();
    if (!spellingOf.has(sourceLower)) {
      throw new TypeError(`expected packageSourceMapping key to name an upstream, got ${JSON.stringify(source)}`);
    }
    for (const raw of patterns) {
      const pattern = raw.trim();
      const star = pattern.indexOf('*');
      if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH || (star !== -1 && star !== pattern.length - 1)) {
        throw new TypeError(
          `expected packageSourceMapping.${source} patterns to be an id or a prefix ending in "*" (at most ${MAX_PATTERN_LENGTH} characters), got ${JSON.stringify(raw)}`,
        );
      }
      const isPrefix = star !== -1;
      const key = (isPrefix ? pattern.slice(0, -1) : pattern).toLowerCase();
      const table = isPrefix ? prefixes : exact;
      let entry = table.get(key);
      if (entry === undefined) {
        entry = { spelling: pattern, upstreams: new Set() };
        table.set(key, entry);
      }
      entry.upstreams.add(sourceLower);
    }
  }
  // Longest prefix first, so the first hit is the most specific one.
  const prefixList = [...prefixes.entries()].sort((a, b) => b[0].length - a[0].length);

  const winner = (id: string): PatternEntry | undefined => {
    const lower = id.toLowerCase();
    const hit = exact.get(lower);
    if (hit !== undefined) return hit;
    for (const [prefix, entry] of prefixList) {
      if (lower.startsWith(prefix)) return entry;
    }
    return undefined;
  };

  return {
    mapped: true,
    eligible: (id) => {
      const entry = winner(id);
      return entry === undefined ? [] : inOrder(entry.upstreams);
    },
    explain: (id) => {
      const entry = winner(id);
      return entry === undefined ? { pattern: undefined, upstreams: [] } : { pattern: entry.spelling, upstreams: inOrder(entry.upstreams) };
    },
  };
}
