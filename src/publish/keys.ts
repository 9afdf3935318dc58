/**
 * nugate's own publish keys (`publish.keyMode: "mapped"`). The config holds only their SHA-256; a key may be
 * scoped to id patterns. The NuGet client sends the key as X-NuGet-ApiKey on push, delete and relist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.ts';

export interface PublishKey {
  name: string;
  /** Id patterns this key may publish; undefined = any id. */
  patterns?: string[];
}

/**
 * Builds a checker returning the matching key, or undefined for a missing or unknown key. Every configured
 * digest is compared in constant time, whatever matched first, so timing tells nothing about the keys.
 */
export function createKeyCheck(keys: Config['publish']['keys']): (apiKey: string | undefined) => PublishKey | undefined {
  const known = keys.map((k) => ({ digest: Buffer.from(k.sha256, 'hex'), key: k.patterns ? { name: k.name, patterns: k.patterns } : { name: k.name } }));
  return (apiKey) => {
    if (apiKey === undefined || apiKey === '') return undefined;
    const digest = createHash('sha256').update(apiKey, 'utf8').digest();
    let found: PublishKey | undefined;
    for (const k of known) {
      if (timingSafeEqual(digest, k.digest) && found === undefined) found = k.key;
    }
    return found;
  };
}

/**
 * NuGet package-pattern rules (package source mapping syntax): an exact id, or a prefix ending in `*`
 * (a lone `*` matches every id); case-insensitive.
 * https://learn.microsoft.com/nuget/consume-packages/package-source-mapping#package-pattern-syntax
 */
export function matchesPattern(pattern: string, id: string): boolean {
  const p = pattern.toLowerCase();
  const lower = id.toLowerCase();
  return p.endsWith('*') ? lower.startsWith(p.slice(0, -1)) : lower === p;
}

/** True when `key` may publish, unlist or relist `id`. */
export function keyAllowsId(key: PublishKey, id: string): boolean {
  return key.patterns === undefined || key.patterns.some((p) => matchesPattern(p, id));
}
