/**
 * Which versions an id has across the eligible sources of a feed, and which source serves a given version: shared by
 * the flat container, explain and dependency warming, so they can never disagree.
 */
import type { Services, Feed } from '../services.ts';
import type { Source } from '../sources/source.ts';
import type { BlobFile } from '../cache/types.ts';
import { eligibleSources } from '../services.ts';
import { mergeVersionLists } from '../merge/versions.ts';
import { fanOut, nothingUsable, type Outcome } from './common.ts';

export interface MergedVersions {
  outcomes: Array<Outcome<string[]>>;
  versions: string[];
  /** Version → name of the source that serves it. */
  provenance: Record<string, string>;
}

/** The union of the eligible sources' version lists; `mustInclude` makes a source recheck a list that lacks it. */
export async function mergedVersions(s: Services, feed: Feed, id: string, mustInclude?: string): Promise<MergedVersions> {
  const sources = eligibleSources(s, feed, id);
  const outcomes = await fanOut(sources, (src) => src.versions(id, mustInclude === undefined ? {} : { mustInclude }));
  const merged = mergeVersionLists(outcomes.map((o) => ({ upstream: o.source.name, versions: o.kind === 'ok' ? o.value : [] })));
  return { outcomes, ...merged };
}

/** Which source serves this version: one that holds the file first, else the highest-priority one that lists it. */
export async function resolveSource(s: Services, feed: Feed, id: string, version: string, file: BlobFile): Promise<Source | undefined> {
  const sources = eligibleSources(s, feed, id);
  if (sources.length === 0) return undefined;
  for (const src of sources) {
    if (await src.holds(id, version, file)) return src;
  }
  // One candidate: no need to ask for its versions list first.
  if (sources.length === 1) return sources[0];
  const { outcomes, provenance } = await mergedVersions(s, feed, id, version);
  const name = provenance[version];
  if (name !== undefined) return sources.find((u) => u.name === name);
  if (outcomes.some((o) => o.kind === 'failed')) throw nothingUsable(s, outcomes, `${id} ${version}`);
  return undefined;
}
