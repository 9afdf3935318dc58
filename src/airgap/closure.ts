/**
 * The transitive closure of a set of requirements, walked through nugate itself (local-feed.ts) with NuGet's rules:
 * a range resolves to its lowest applicable version, a float to its highest match, and every package's dependencies
 * are followed for EVERY target framework it declares (a superset of what any one restore needs, which is what an
 * air gap wants). Requests run in parallel within one bound; failures are collected and named, never fatal to the
 * rest of the walk.
 */
import type { Nuspec } from '../nuget/nuspec.ts';
import { lowerNormalized } from '../nuget/version.ts';
import type { LocalFeed } from './local-feed.ts';
import { limiter } from './pool.ts';
import type { Progress } from './progress.ts';
import { chooseVersion, describeSpec, parseVersionSpec, type Requirement } from './spec.ts';

export type PackageState = 'new' | 'cached' | 'planned' | 'failed';

export interface PackageOutcome {
  /** Id as the nuspec spells it (as asked when there is no nuspec). */
  id: string;
  /** Lowercase normalized version. */
  version: string;
  state: PackageState;
  /** Bytes downloaded for it (0 when it was already cached). */
  bytes: number;
}

export interface Problem {
  what: string;
  reason: string;
}

export interface ClosureResult {
  packages: PackageOutcome[];
  /** Required packages that are not in the cache at the end. */
  failures: Problem[];
  /** Things a later client would miss that do not stop a restore (a registration that could not be fetched). */
  warnings: Problem[];
}

export interface ClosureOptions {
  /** Download each package (prefetch), or only look at what is held (dry run, export selection). */
  download: boolean;
  /** Also fetch each id's registration (add package without a version, search, list --outdated). */
  registrations: boolean;
  concurrency: number;
  progress?: Progress;
}

type Feed = Pick<LocalFeed, 'versions' | 'nupkg' | 'nuspec' | 'registration' | 'holds'>;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function walkClosure(feed: Feed, requirements: readonly Requirement[], opts: ClosureOptions): Promise<ClosureResult> {
  const limit = limiter(opts.concurrency);
  const pending = new Set<Promise<void>>();
  const asked = new Set<string>();
  const versionLists = new Map<string, Promise<string[] | undefined>>();
  const packages = new Map<string, PackageOutcome>();
  const failures: Problem[] = [];
  const warnings: Problem[] = [];

  const spawn = (work: () => Promise<void>): void => {
    const p = work().catch((err: unknown) => {
      failures.push({ what: 'prefetch', reason: message(err) });
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const versionsOf = (id: string): Promise<string[] | undefined> => {
    const lower = id.toLowerCase();
    let list = versionLists.get(lower);
    if (list === undefined) {
      list = limit(() => feed.versions(lower));
      versionLists.set(lower, list);
      if (opts.registrations) {
        spawn(async () => {
          try {
            await limit(() => feed.registration(lower));
          } catch (err) {
            warnings.push({ what: `registration of ${id}`, reason: message(err) });
          }
        });
      }
    }
    return list;
  };

  const need = (req: Requirement): void => {
    const key = `${req.id.toLowerCase()}\u0000${describeSpec(req.spec)}`;
    if (asked.has(key)) return;
    asked.add(key);
    spawn(() => resolveRequirement(req));
  };

  async function resolveRequirement(req: Requirement): Promise<void> {
    const what = `${req.id} ${describeSpec(req.spec)}`;
    let versions: string[] | undefined;
    try {
      versions = await versionsOf(req.id);
    } catch (err) {
      failures.push({ what, reason: `${message(err)} (required by ${req.from})` });
      return;
    }
    if (versions === undefined || versions.length === 0) {
      failures.push({ what, reason: `no upstream has this package (required by ${req.from})` });
      return;
    }
    const version = chooseVersion(req.spec, versions);
    if (version === undefined) {
      const shown = versions.length > 8 ? `${versions.slice(0, 4).join(', ')}, … ${versions.slice(-3).join(', ')}` : versions.join(', ');
      failures.push({ what, reason: `no version matches (available: ${shown}; required by ${req.from})` });
      return;
    }
    await ensurePackage(req.id, lowerNormalized(version) ?? version.toLowerCase());
  }

  async function ensurePackage(id: string, version: string): Promise<void> {
    const key = `${id.toLowerCase()}/${version}`;
    if (packages.has(key)) return;
    const outcome: PackageOutcome = { id, version, state: 'planned', bytes: 0 };
    packages.set(key, outcome);
    opts.progress?.grow(1);
    let nuspec: Nuspec | undefined;
    try {
      if (opts.download) {
        const got = await limit(() => feed.nupkg(id, version));
        outcome.state = got.state === 'HIT' ? 'cached' : 'new';
        outcome.bytes = outcome.state === 'new' ? got.bytes : 0;
      } else {
        outcome.state = (await feed.holds(id, version)) ? 'cached' : 'planned';
      }
      nuspec = await limit(() => feed.nuspec(id, version));
    } catch (err) {
      outcome.state = 'failed';
      failures.push({ what: `${id} ${version}`, reason: message(err) });
    }
    if (nuspec !== undefined) outcome.id = nuspec.id;
    opts.progress?.tick(`${outcome.id} ${version} ${outcome.state}`);
    if (outcome.state === 'failed') return;
    if (nuspec === undefined) {
      failures.push({ what: `${id} ${version}`, reason: 'its nuspec could not be read, so its dependencies are unknown' });
      return;
    }
    for (const group of nuspec.dependencyGroups) {
      for (const dep of group.dependencies) {
        // No range on a dependency means any version: the lowest one (NuGet's rule for "no lower bound").
        const spec = parseVersionSpec(dep.range ?? '0.0.0');
        if (spec === undefined) {
          warnings.push({ what: `${dep.id} ${dep.range ?? ''}`, reason: `invalid dependency range in ${outcome.id} ${version}; not followed` });
          continue;
        }
        need({ id: dep.id, spec, from: `${outcome.id} ${version}` });
      }
    }
  }

  for (const req of requirements) need(req);
  while (pending.size > 0) await Promise.all([...pending]);
  const list = [...packages.values()].sort((a, b) => a.id.toLowerCase().localeCompare(b.id.toLowerCase()) || a.version.localeCompare(b.version));
  return { packages: list, failures, warnings };
}
