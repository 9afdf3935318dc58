/**
 * Dependency-aware warming (issue 9). A restore walks the dependency graph one level at a time, paying two round
 * trips per level (the version list, then the package it reads the dependencies from). When nugate serves a package,
 * it already knows that package's dependencies (its nuspec), so in the background, bounded, it fetches what the client
 * will ask for next: each dependency's version list and, in parallel, the range's lower bound (the version NuGet
 * picks for nearly every dependency); once the list is known, the lowest applicable version if that differs. Each
 * warmed package warms its own dependencies in turn, so the closure is fetched at the upstream's speed while the
 * client is still on the first level.
 *
 * Warming only fills the caches through the same Sources a client request uses: it never changes an answer, obeys
 * packageSourceMapping (eligible sources only), never runs offline, and can be turned off (`warm.enabled`).
 */
import { LRUCache } from 'lru-cache';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Services, Feed } from '../services.ts';
import type { Source } from '../sources/source.ts';
import { FEED_SENTINEL } from '../feed-urls.ts';
import { readBlobBody, closeBlobBody } from '../cache/blob-body.ts';
import { parseNuspec } from '../nuget/nuspec.ts';
import { MAX_NUSPEC_BYTES } from '../nuget/nupkg.ts';
import { lowerNormalized, lowestApplicable, normalize, parseRange } from '../nuget/version.ts';
import { isValidId, normalizeId } from '../nuget/id.ts';
import { mergedVersions, resolveSource } from '../resources/resolve.ts';

export interface WarmerOptions {
  services: Services;
  log: Logger;
  /** Warm-up requests in flight at once, across every client (they share the upstream with real requests). */
  concurrency: number;
  registry?: Registry;
}

type Kind = 'versions' | 'package';

/** How long a warmed item waits for its client before it counts as wasted. */
const CLAIM_WINDOW_MS = 10 * 60_000;
/** Packages and ids recently warmed or being warmed: each is warmed once per window, whatever asks. */
const SEEN_MAX = 50_000;
/** Queued warm-ups beyond this are dropped: warming is an optimisation, never a backlog. */
const QUEUE_MAX = 5_000;
/** A version list that answers within this long was held: no speculative download is needed. */
const HELD_LIST_MS = 5;
/** How a canonical document names a page nugate serves through a signed link: `{feed}raw/{upstream}/{token}`. */
const RAW_LINKS = `${FEED_SENTINEL}raw/`;

type Group = ReturnType<typeof parseNuspec>['dependencyGroups'][number];

/** Framework families, most preferred first, for a project on a current .NET (what nugate predicts clients target). */
const FAMILIES: ReadonlyArray<{ re: RegExp; family: number }> = [
  { re: /^\.?net(\d+)\.(\d+)/, family: 0 }, // net5.0 … net10.0
  { re: /^\.?netcoreapp(\d+)\.(\d+)/, family: 1 },
  { re: /^\.?netstandard(\d+)\.(\d+)/, family: 2 },
];

/**
 * The dependency group a restore of a current .NET project will use: NuGet takes the nearest compatible group, which
 * for net8.0-class projects is the highest net5+ group, else the highest netcoreapp, else the highest netstandard,
 * else the framework-less group. Warming the other groups (netstandard1.x, .NET Framework) would fetch closures no
 * such client asks for; a package with none of these is warmed whole.
 */
export function likelyGroups(groups: readonly Group[]): Group[] {
  let best: { group: Group; family: number; major: number; minor: number } | undefined;
  for (const group of groups) {
    const tfm = (group.targetFramework ?? '').toLowerCase();
    for (const { re, family } of FAMILIES) {
      const m = re.exec(tfm);
      if (m === null) continue;
      const major = Number(m[1]);
      const minor = Number(m[2]);
      // "net45"-style names have no dot and never match; net4.x with a dot is .NET Framework, not net5+.
      if (family === 0 && major < 5) continue;
      const better = best === undefined || family < best.family || (family === best.family && (major > best.major || (major === best.major && minor > best.minor)));
      if (better) best = { group, family, major, minor };
      break;
    }
  }
  if (best !== undefined) return [best.group];
  const any = groups.filter((g) => g.targetFramework === undefined || g.targetFramework === '');
  return any.length > 0 ? any : [...groups];
}

export class Warmer {
  private readonly s: Services;
  private readonly log: Logger;
  private readonly concurrency: number;
  private running = 0;
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly seen: LRUCache<string, true>;
  /** Items warmed and not yet asked for by a client; what leaves unclaimed was wasted. */
  private readonly unclaimed: LRUCache<string, Kind>;
  /**
   * Warm-ups still fetching, and whether a client asked for the item meanwhile: a client that joins the fetch in
   * flight used it as much as one that finds it held (a cold restore's client mostly arrives during the fetch).
   */
  private readonly inFlight = new Map<string, { claimed: boolean }>();
  /** Client sessions seen (X-NuGet-Session-Id), so each starts at most one audit warm-up check. */
  private readonly sessions: LRUCache<string, true>;
  private readonly counter: Counter<'kind' | 'outcome'> | undefined;
  private idle: Array<() => void> = [];

  constructor(opts: WarmerOptions) {
    this.s = opts.services;
    this.log = opts.log.child({ component: 'warm' });
    this.concurrency = Math.max(1, opts.concurrency);
    const perf = { now: () => this.s.clock.now() };
    this.seen = new LRUCache<string, true>({ max: SEEN_MAX, ttl: CLAIM_WINDOW_MS, perf });
    this.sessions = new LRUCache<string, true>({ max: SEEN_MAX, ttl: CLAIM_WINDOW_MS, perf });
    this.unclaimed = new LRUCache<string, Kind>({
      max: SEEN_MAX,
      ttl: CLAIM_WINDOW_MS,
      ttlAutopurge: false,
      perf,
      dispose: (kind, _key, reason) => {
        if (reason === 'evict' || reason === 'expire') this.count(kind, 'wasted');
      },
    });
    if (opts.registry) {
      this.counter = new Counter({
        name: 'nugate_warm_items_total',
        help: 'Dependency warming: items warmed, later used by a client, or wasted (never asked for within 10 minutes)',
        labelNames: ['kind', 'outcome'],
        registers: [opts.registry],
        collect: () => {
          // Expired items are only noticed when looked at: count them as wasted before each scrape.
          this.unclaimed.purgeStale();
        },
      });
    }
  }

  /** A client was served this package: warm what its dependencies will make the client ask for next. */
  afterPackage(feed: Feed, id: string, version: string): void {
    if (this.s.config.offline) return;
    this.enqueue(`deps:${feed.path}:${id}@${version}`, () => this.warmDependenciesOf(feed, id, version));
  }

  /**
   * A package is downloading: once its first bytes show its nuspec (BlobResult.nuspec), warm its dependencies, not
   * once the whole package is stored. Same key as afterPackage, so each package is followed once.
   */
  whileDownloading(feed: Feed, id: string, version: string, nuspec: Promise<Buffer | undefined> | undefined): void {
    void nuspec?.then((xml) => {
      if (xml !== undefined) this.withNuspec(feed, id, version, xml);
    });
  }

  private withNuspec(feed: Feed, id: string, version: string, xml: Buffer): void {
    if (this.s.config.offline) return;
    this.enqueue(`deps:${feed.path}:${id}@${version}`, async () => {
      const nuspec = parseNuspec(xml);
      // Unverified bytes: a manifest that names another package is no hint about this one.
      if (nuspec.id.toLowerCase() !== id || lowerNormalized(nuspec.version) !== version) return;
      this.queueDependencies(feed, nuspec);
    });
  }

  /**
   * A NuGet client began an operation (an X-NuGet-Session-Id not seen before). A restore ends by asking for the
   * vulnerability data (NuGetAudit, on by default since .NET 8): fetch each upstream's index and pages now, in the
   * background, so the end of the restore does not wait two upstream round trips. Fresh copies cost nothing; each
   * upstream is checked at most once per CLAIM_WINDOW_MS.
   */
  sessionStarted(session: string): void {
    if (this.s.config.offline || this.sessions.has(session)) return;
    this.sessions.set(session, true);
    for (const src of this.s.sources) this.enqueue(`audit:${src.name}`, () => this.warmAudit(src));
  }

  /**
   * The process is serving: discover every upstream now (its service index, over a connection that then stays
   * open), so the first client request after a start does not wait one more upstream round trip for it.
   */
  started(): void {
    if (this.s.config.offline) return;
    for (const src of this.s.sources) this.enqueue(`discover:${src.name}`, async () => void (await src.capabilities()));
  }

  /** A client asked for the version list of `id`: if warming fetched it, that warm-up was used. */
  claimVersions(id: string): void {
    this.claim(`versions:${id}`, 'versions');
  }

  /** A client asked for this package: if warming fetched it, that warm-up was used. */
  claimPackage(id: string, version: string): void {
    this.claim(`package:${id}@${version}`, 'package');
  }

  /** Resolves when no warm-up is queued or running (tests). */
  settled(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private claim(key: string, kind: Kind): void {
    if (this.unclaimed.delete(key)) this.count(kind, 'used');
    else {
      const flight = this.inFlight.get(key);
      if (flight !== undefined) flight.claimed = true;
    }
  }

  /**
   * Runs the fetch of one warmed item; `fetched` says whether it came from the upstream (a warm-up that found the
   * item held warmed nothing). Counted as warmed, and as used at once when a client asked while it was in flight.
   */
  private async tracked<T>(key: string, kind: Kind, fetch: () => Promise<T>, fetched: (value: T) => boolean): Promise<T> {
    if (this.inFlight.has(key)) return fetch();
    const flight = { claimed: false };
    this.inFlight.set(key, flight);
    try {
      const value = await fetch();
      if (fetched(value)) {
        this.count(kind, 'warmed');
        if (flight.claimed) this.count(kind, 'used');
        else this.unclaimed.set(key, kind);
      }
      return value;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private count(kind: Kind, outcome: 'warmed' | 'used' | 'wasted'): void {
    this.counter?.inc({ kind, outcome });
  }

  private enqueue(key: string, task: () => Promise<void>): void {
    if (this.seen.has(key) || this.queue.length >= QUEUE_MAX) return;
    this.seen.set(key, true);
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const task = this.queue.shift();
      if (task === undefined) break;
      this.running++;
      void task()
        .catch((err: unknown) => this.log.debug({ err }, 'warm-up failed (a client request will try again)'))
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queue.length === 0) {
            const waiting = this.idle;
            this.idle = [];
            for (const resolve of waiting) resolve();
          }
        });
    }
  }

  /** Reads the package's nuspec (through its source: cached, or one small request) and queues each dependency. */
  private async warmDependenciesOf(feed: Feed, id: string, version: string): Promise<void> {
    const src = await resolveSource(this.s, feed, id, version, 'nuspec');
    const blob = await src?.file(id, version, 'nuspec');
    if (blob === undefined) return;
    if (blob.size !== undefined && blob.size > MAX_NUSPEC_BYTES) {
      await closeBlobBody(blob.body);
      return;
    }
    this.queueDependencies(feed, parseNuspec(await readBlobBody(blob.body)));
  }

  /** Queues each dependency of the group a current .NET project restores. */
  private queueDependencies(feed: Feed, nuspec: ReturnType<typeof parseNuspec>): void {
    const wanted = new Map<string, Set<string>>();
    for (const group of likelyGroups(nuspec.dependencyGroups)) {
      for (const dep of group.dependencies) {
        if (!isValidId(dep.id)) continue;
        const depId = normalizeId(dep.id);
        let ranges = wanted.get(depId);
        if (ranges === undefined) wanted.set(depId, (ranges = new Set()));
        ranges.add(dep.range ?? '');
      }
    }
    for (const [depId, ranges] of wanted) {
      this.enqueue(`versions:${feed.path}:${depId}:${[...ranges].sort().join('|')}`, () => this.warmDependency(feed, depId, [...ranges]));
    }
  }

  /**
   * One dependency: its version list and, at the same time, each range's lower bound; then the lowest applicable
   * version where the lower bound is not listed. Every package warmed this way is followed to its own dependencies.
   */
  private async warmDependency(feed: Feed, id: string, ranges: string[]): Promise<void> {
    const parsed = ranges.map((r) => (r.trim() === '' ? undefined : parseRange(r)));
    const lowerBounds = new Set<string>();
    for (const r of parsed) {
      if (r?.min !== undefined && r.minInclusive) {
        const v = lowerNormalized(normalize(r.min));
        if (v !== undefined) lowerBounds.add(v);
      }
    }
    const listing = this.warmVersions(feed, id);
    // A held list answers at once: then only what NuGet will pick is fetched. A list that must come from the
    // upstream takes a round trip, during which the lower bounds are fetched on speculation (they exist for nearly
    // every dependency), so the warm-up pays one round trip per level instead of two.
    const held = await Promise.race([listing.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), HELD_LIST_MS).unref())]);
    const speculative = held ? [] : [...lowerBounds].map((v) => this.warmPackage(feed, id, v));
    const [merged] = await Promise.all([listing, ...speculative]);
    for (const r of parsed) {
      const pick = r === undefined ? merged.versions[0] : lowestApplicable(r, merged.versions);
      if (pick !== undefined && (held || !lowerBounds.has(pick))) await this.warmPackage(feed, id, pick);
    }
  }

  private warmVersions(feed: Feed, id: string): Promise<{ versions: string[] }> {
    return this.tracked(
      `versions:${id}`,
      'versions',
      () => mergedVersions(this.s, feed, id),
      (merged) => merged.outcomes.some((o) => o.kind === 'ok' && o.meta.state === 'MISS'),
    );
  }

  /** The source's vulnerability index and every page it links (the pages are nugate links: raw/{upstream}/{token}). */
  private async warmAudit(src: Source): Promise<void> {
    const index = await src.vulnerabilityIndex();
    if (!index.found || !Array.isArray(index.value)) return;
    const tokens: string[] = [];
    for (const entry of index.value as unknown[]) {
      const id = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)['@id'] : undefined;
      if (typeof id !== 'string' || !id.startsWith(RAW_LINKS)) continue;
      const [upstream, token, ...rest] = id.slice(RAW_LINKS.length).split('/');
      if (upstream === src.name && token !== undefined && token !== '' && rest.length === 0) tokens.push(token);
    }
    await Promise.all(tokens.map((token) => src.linked(token)));
  }

  /** Downloads one package into the cache (never into memory), then follows it to its dependencies. */
  private async warmPackage(feed: Feed, id: string, version: string): Promise<void> {
    const key = `package:${feed.path}:${id}@${version}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, true);
    const src = await resolveSource(this.s, feed, id, version, 'nupkg');
    if (src === undefined) return;
    if (!(await src.holds(id, version, 'nupkg'))) {
      const downloaded = await this.tracked(
        `package:${id}@${version}`,
        'package',
        async () => {
          const blob = await src.file(id, version, 'nupkg');
          if (blob === undefined) return undefined;
          // The next level starts as soon as the nuspec has arrived, while the rest of this package downloads.
          this.whileDownloading(feed, id, version, blob.nuspec);
          // The bytes are not read here: a download in flight finishes and is verified whether or not anyone
          // reads it (`settled`), and any other body is complete already. Reading every warmed package back from
          // disk only to drop it was CPU spent on the cores the restoring client needs.
          await closeBlobBody(blob.body);
          if (blob.settled !== undefined && !(await blob.settled)) return undefined;
          return blob.state;
        },
        (state) => state === 'MISS',
      );
      if (downloaded === undefined) return;
    }
    this.afterPackage(feed, id, version);
  }
}
