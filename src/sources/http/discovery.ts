/**
 * What an HTTP source learns from its upstream's service index: its resources, the rewrite table from upstream URLs
 * to canonical ones, the bases it may read (never the publish endpoints) and the origins its credentials and
 * redirects may reach.
 */
import type { UpstreamResources } from '../../nuget/service-index.ts';
import { compileRewrite, type RewriteRule, type RewriteTable } from '../../nuget/rewrite.ts';
import { FEED_SENTINEL } from '../../feed-urls.ts';
import type { LinkSigner } from '../links.ts';

export interface Discovered {
  resources: UpstreamResources;
  /** Upstream URL → canonical URL, for every document this source stores. */
  table: RewriteTable;
  /** Resource bases reachable through link tokens, by slot number (links.ts). */
  linkBases: string[];
  /** Origins that may receive this upstream's credentials: its service index, its resources, its publish endpoints. */
  credentialOrigins: string[];
  /** Origins a JSON request may be redirected to. */
  jsonOrigins: string[];
  /** Bases nugate reads from: every resource base except the publish endpoints. */
  readBases: string[];
  /** Publish endpoints: never read, never linked. */
  publishBases: string[];
}

export function buildDiscovered(name: string, resources: UpstreamResources, opts: { indexOrigin: string; redirectOrigins: readonly string[] | undefined; links: LinkSigner }): Discovered {
  const rules: RewriteRule[] = [];
  const named = new Set<string>();
  const linkBases: string[] = [];
  const add = (from: string | undefined, to: string): void => {
    if (!from || named.has(from)) return;
    named.add(from);
    rules.push({ from, to });
  };
  add(resources.packageBaseAddress, `${FEED_SENTINEL}flatcontainer/`);
  add(resources.registrationSemVer2, `${FEED_SENTINEL}registration/`);
  add(resources.registrationSemVer1, `${FEED_SENTINEL}registration-semver1/`);
  for (const s of resources.search) add(s, `${FEED_SENTINEL}search`);
  for (const s of resources.autocomplete) add(s, `${FEED_SENTINEL}autocomplete`);
  // Every other base (catalog, vulnerability pages …) becomes signed links: nugate fetches only URLs that one of
  // this upstream's documents named (links.ts). Publish endpoints are never read, so never linked.
  const publishBases = [resources.packagePublish, resources.symbolPackagePublish].filter((b): b is string => b !== undefined);
  const readBases = resources.bases.filter((b) => !publishBases.includes(b));
  for (const base of readBases) {
    if (named.has(base)) continue;
    named.add(base);
    const slot = linkBases.length;
    linkBases.push(base);
    rules.push({ from: base, to: `${FEED_SENTINEL}raw/`, map: (rest) => `${FEED_SENTINEL}raw/${encodeURIComponent(name)}/${opts.links.sign(name, slot, rest)}` });
  }
  const origins = new Set<string>([opts.indexOrigin]);
  for (const b of resources.bases) origins.add(new URL(b).origin);
  const credentialOrigins = new Set(origins);
  for (const p of [resources.packagePublish, resources.symbolPackagePublish]) if (p) credentialOrigins.add(new URL(p).origin);
  return {
    resources,
    table: compileRewrite(rules),
    linkBases,
    credentialOrigins: [...credentialOrigins],
    jsonOrigins: [...origins, ...(opts.redirectOrigins ?? [])],
    readBases,
    publishBases,
  };
}

/** True when `url` lies under one of the bases (compared as given and WHATWG-normalized, so ':443' or case do not matter). */
export function underBases(url: string, bases: readonly string[]): boolean {
  let normalized: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
    normalized = parsed.href;
  } catch {
    return false;
  }
  return bases.some((b) => {
    const bare = b.replace(/\/$/, '');
    return url.startsWith(b) || normalized.startsWith(b) || url === bare || normalized === bare;
  });
}

