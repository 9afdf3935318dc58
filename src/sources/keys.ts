/**
 * The one module that names documents in the metadata store. Every key a source reads or writes is built here and,
 * where something needs to read one back (listing what is held), parsed here; nothing else concatenates key strings.
 *
 *   si:{upstream}                      the upstream's own service index
 *   flat:{upstream}:{id}               versions of an id (flat container index)
 *   reg:{upstream}:{id}                registration of an id (leaves, as the source stores them)
 *   search:{upstream}:{query}          a search answer (memory only)
 *   autocomplete:{upstream}:{query}    an autocomplete answer (memory only)
 *   vuln:{upstream}                    the VulnerabilityInfo index
 *   link:{upstream}:{token}            a linked document (vulnerability page, catalog entry)
 *
 * Upstream names cannot contain ':' (config schema) and ids are lowercase NuGet ids (no ':'), so keys are injective.
 */

export type DocKey =
  | { type: 'serviceIndex' }
  | { type: 'versions'; id: string }
  | { type: 'registration'; id: string }
  | { type: 'search'; query: string }
  | { type: 'autocomplete'; query: string }
  | { type: 'vulnerabilityIndex' }
  | { type: 'link'; token: string };

const PREFIX = {
  serviceIndex: 'si',
  versions: 'flat',
  registration: 'reg',
  search: 'search',
  autocomplete: 'autocomplete',
  vulnerabilityIndex: 'vuln',
  link: 'link',
} as const satisfies Record<DocKey['type'], string>;

export function docKey(upstream: string, key: DocKey): string {
  const head = `${PREFIX[key.type]}:${upstream}`;
  switch (key.type) {
    case 'serviceIndex':
    case 'vulnerabilityIndex':
      return head;
    case 'versions':
    case 'registration':
      return `${head}:${key.id}`;
    case 'search':
    case 'autocomplete':
      return `${head}:${key.query}`;
    case 'link':
      return `${head}:${key.token}`;
  }
}

/** The keys that describe one id at one upstream: exactly what a publish of that id invalidates. */
export function idKeys(upstream: string, id: string): string[] {
  return [docKey(upstream, { type: 'versions', id }), docKey(upstream, { type: 'registration', id })];
}

/** The prefix under which every key of `type` for `upstream` lies (for listing what is held). */
export function keyPrefix(upstream: string, type: 'versions' | 'registration'): string {
  return `${PREFIX[type]}:${upstream}:`;
}

/** The id of a versions or registration key built by docKey; undefined for anything else. */
export function idOfKey(upstream: string, type: 'versions' | 'registration', key: string): string | undefined {
  const prefix = keyPrefix(upstream, type);
  if (!key.startsWith(prefix)) return undefined;
  const id = key.slice(prefix.length);
  return id === '' || id.includes(':') ? undefined : id;
}

/** The type, upstream and remainder (id, query or token; '' for none) of any key docKey built; undefined otherwise. */
export function parseDocKey(key: string): { type: DocKey['type']; upstream: string; rest: string } | undefined {
  const m = /^([a-z]+):([^:]+)(?::(.*))?$/.exec(key);
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  const type = (Object.keys(PREFIX) as Array<DocKey['type']>).find((t) => PREFIX[t] === m[1]);
  return type === undefined ? undefined : { type, upstream: m[2], rest: m[3] ?? '' };
}
