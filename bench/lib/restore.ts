/**
 * Restores with the real dotnet client, measured as a new user or a fresh CI agent feels them.
 *
 * The project is xunit 2.9.3 + Microsoft.NET.Test.Sdk 18.0.1 (12 packages, all in the machine's package store,
 * /opt/nuget/packages). Before every restore the client's caches are emptied (NUGET_PACKAGES, the http cache and
 * the project's obj/) and `--force` is given, so each run resolves, downloads and extracts the whole closure. The
 * wall time of the `dotnet restore` process is what is measured.
 *
 * The upstream behaves like a remote feed (remote-feed.ts: latency per request, set-up per new connection, a
 * limited accept rate). Series, one of each per round, the order rotated between rounds so drift in the machine's
 * speed hits all alike, medians reported:
 * - direct: the client straight to that feed (the denominator of the goals);
 * - cold: through a nugate started for this restore with an empty cache (started before the clock runs);
 * - warm: through one long-lived nugate that already holds everything (metadata TTL 1h, so it stays warm);
 * - local: `--source /opt/nuget/packages`, a local folder feed (the floor; nothing on the network).
 *
 * Then a batch: N isolated clients (N CI agents, each its own caches) restoring at once, through the warm nugate
 * and from the local folder; the wall time of the whole batch.
 *
 * And, only when asked (`--upstream URL`), the same project direct / cold / warm against a real feed.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeResult, makeIsolatedDotnet, nugetConfigXml, requireDotnet, type IsolatedDotnet } from '../../test/helpers/dotnet.ts';
import { DEFAULT_PACKAGES_ROOT } from '../../test/helpers/packages.ts';
import { foreignCores, snapshot } from './cpu.ts';
import { sampleNugate, startNugateProcess, type ProcessSample, type RunningNugate } from './nugate.ts';
import { addCleanup, hasTaskset } from './procs.ts';
import { startRemoteFeed, type FeedStats, type RemoteFeed, type RemoteProfile } from './remote-feed.ts';

export const RESTORE_REFS = [
  { id: 'xunit', version: '2.9.3' },
  { id: 'Microsoft.NET.Test.Sdk', version: '18.0.1' },
];
export const PROJECT_TITLE = 'xunit 2.9.3 + Microsoft.NET.Test.Sdk 18.0.1, 12 packages';

export type Series = 'direct' | 'cold' | 'coldrun' | 'warm' | 'local' | 'direct1' | 'cold1';
export const SERIES_TITLE: Record<Series, string> = {
  direct: 'direct to the feed, no nugate',
  cold: 'through a new nugate process (empty cache)',
  coldrun: 'through a running nugate holding nothing of the feed',
  direct1: 'direct, the client on one core',
  cold1: 'cold nugate on the other core (a gateway)',
  warm: 'through a warm nugate',
  local: `local folder feed (${DEFAULT_PACKAGES_ROOT})`,
};

/** A round during which other processes used more than this many cores (on average) is redone. */
const DISTURBED_CORES = 0.15;
const RESTORE_TIMEOUT_MS = 300_000;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}

/** Where a restore goes: a V3 feed, or a folder given with `--source`. */
type Target = { kind: 'feed'; url: string } | { kind: 'folder'; path: string };

/** One isolated client: its own HOME, NuGet caches and copy of the project. */
interface Client {
  /** `core`: dotnet runs on that core only. */
  restore(target: Target, core?: number): Promise<number>;
  cleanup(): Promise<void>;
}

async function makeClient(name: string): Promise<Client> {
  const d: IsolatedDotnet = await makeIsolatedDotnet({ sources: [] });
  const project = await d.writeProject(name, RESTORE_REFS);
  const configs = new Map<string, string>();
  const configFor = async (url: string): Promise<string> => {
    let file = configs.get(url);
    if (file === undefined) {
      file = join(d.dir, `NuGet.${configs.size}.Config`);
      await writeFile(file, nugetConfigXml([{ name: 'feed', url }]));
      configs.set(url, file);
    }
    return file;
  };
  return {
    async restore(target, core) {
      await Promise.all([d.packagesDir, d.httpCacheDir, join(project, 'obj')].map((p) => rm(p, { recursive: true, force: true })));
      await Promise.all([mkdir(d.packagesDir, { recursive: true }), mkdir(d.httpCacheDir, { recursive: true })]);
      // d.configFile has no sources at all (`<clear/>`): with --source the folder is the only one.
      const args = ['restore', project, '--configfile', target.kind === 'feed' ? await configFor(target.url) : d.configFile, '--force', '-v', 'q'];
      if (target.kind === 'folder') args.push('--source', target.path);
      const started = performance.now();
      const r = await d.run(args, { timeoutMs: RESTORE_TIMEOUT_MS, ...(core === undefined ? {} : { core }) });
      const ms = performance.now() - started;
      if (r.code !== 0) throw new Error(`restore from ${target.kind === 'feed' ? target.url : target.path} failed:\n${describeResult(r)}`);
      return ms;
    },
    cleanup: () => d.cleanup(),
  };
}

/** One timed run: wall time, and what the remote-like feed saw meanwhile (absent for a real upstream). */
export interface Run {
  ms: number;
  feed?: FeedStats;
}

export interface SeriesResult<S extends string> {
  runs: Record<S, Run[]>;
  /** Rounds redone because other processes used the CPU meanwhile. */
  redone: number;
}

/**
 * Rounds of every series once, the order rotated by one each round; a round that other load disturbed is redone
 * (`redo` times at most over the whole scenario).
 */
async function rounds<S extends string>(series: readonly S[], count: number, o: { label: string; redo: number; log: (line: string) => void }, once: (s: S) => Promise<Run>): Promise<SeriesResult<S>> {
  const { label, log } = o;
  const runs = Object.fromEntries(series.map((s) => [s, [] as Run[]])) as Record<S, Run[]>;
  let redoLeft = o.redo;
  let redone = 0;
  for (let i = 0; i < count; i++) {
    const order = series.map((_, k) => series[(k + i) % series.length] as S);
    const round = new Map<S, Run>();
    const before = snapshot();
    for (const s of order) round.set(s, await once(s));
    const foreign = foreignCores(before, snapshot());
    const line = series.map((s) => `${s} ${((round.get(s)?.ms ?? Number.NaN) / 1000).toFixed(2)} s`).join(', ');
    if (foreign > DISTURBED_CORES && redoLeft > 0) {
      redoLeft--;
      redone++;
      log(`  ${label} round ${i + 1}/${count}: ${line}: disturbed (other processes used ${foreign.toFixed(2)} cores), run again`);
      i--;
      continue;
    }
    for (const s of series) runs[s].push(round.get(s) ?? { ms: Number.NaN });
    log(`  ${label} round ${i + 1}/${count}: ${line}${foreign > DISTURBED_CORES ? ` (other load ${foreign.toFixed(2)} cores)` : ''}`);
  }
  return { runs, redone };
}

export interface RestoreResults {
  dotnetVersion: string;
  profile: RemoteProfile;
  /** The restore that filled the warm nugate (a cold restore too, before any warm-up of the machine). */
  firstFillMs: number;
  single: SeriesResult<Series>;
  samples: ProcessSample[];
}

export interface BatchResults {
  agents: number;
  batch: SeriesResult<'warm' | 'local'>;
  samples: ProcessSample[];
}

export interface UpstreamResults {
  url: string;
  single: SeriesResult<'direct' | 'cold' | 'warm'>;
  samples: ProcessSample[];
}

/** nugate's config for every restore series: metadata TTL 1h so the warm one stays warm for the whole run. */
const TTL = { metadata: '1h' };

/**
 * The restore scenarios share one remote-like feed, one warm nugate in front of it and the clients: `single()`,
 * then `batch()`, then `close()`. `upstream()` is separate (a real feed, its own nugates).
 */
export class RestoreLab {
  private clients: Client[] = [];
  private unregister: () => void;
  private coldSeq = 0;

  private constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
    private readonly redo: number,
    readonly dotnetVersion: string,
    readonly remote: RemoteFeed,
  ) {
    // On Ctrl-C, stopAll() runs this even though the scenario never returns (processes are stopped by procs.ts).
    this.unregister = addCleanup(() => this.closeResources());
  }

  static async start(o: { dir: string; profile: RemoteProfile; redo: number; log: (line: string) => void }): Promise<RestoreLab> {
    const dotnetVersion = requireDotnet();
    return new RestoreLab(o.dir, o.log, o.redo, dotnetVersion, await startRemoteFeed(o.profile));
  }

  private runningNugate: Promise<RunningNugate> | undefined;
  private views: string[] = [];
  /**
   * A long-lived nugate with one upstream view per restore of the `coldrun` series (each at the same feed, cached
   * under its own name): every such restore finds nothing held, in a process that has run before, as a gateway
   * meets a package nobody asked it for yet. A new process (`cold`) also pays for its own start: V8 compiles and
   * optimises nugate's code during that first restore (about half of its CPU time, measured).
   */
  private running(): Promise<RunningNugate> {
    if (this.runningNugate === undefined) {
      this.views = Array.from({ length: this.viewCount }, (_, i) => `view${i + 1}`);
      this.runningNugate = startNugateProcess({ name: 'nugate-running', dir: join(this.dir, 'nugate-running'), upstream: this.remote.indexUrl, ttl: TTL, views: this.views });
    }
    return this.runningNugate;
  }

  /** The next view the running nugate holds nothing of. */
  private async freshView(): Promise<string> {
    const nugate = await this.running();
    const view = this.views.shift();
    if (view === undefined) throw new Error('the running nugate has no unused upstream view left (more rounds than views)');
    return `${nugate.url}/upstreams/${view}/v3/index.json`;
  }

  /** Views the running nugate is started with: set by single() before first use. */
  private viewCount = 0;

  private warmNugate: Promise<RunningNugate> | undefined;
  /** The long-lived nugate in front of the remote-like feed, started on first use (an --upstream-only run has none). */
  private warm(): Promise<RunningNugate> {
    this.warmNugate ??= startNugateProcess({ name: 'nugate-warm', dir: join(this.dir, 'nugate-warm'), upstream: this.remote.indexUrl, ttl: TTL });
    return this.warmNugate;
  }

  private async client(i: number): Promise<Client> {
    for (let c = this.clients[i]; ; c = this.clients[i]) {
      if (c !== undefined) return c;
      this.clients.push(await makeClient(`Agent${this.clients.length + 1}`));
    }
  }

  /** A nugate with an empty cache in front of `upstream`, ready (listening) before it is used; `core` pins it. */
  private async coldNugate(upstream: string, core?: number): Promise<{ nugate: RunningNugate; dir: string }> {
    const dir = join(this.dir, `nugate-cold-${++this.coldSeq}`);
    return { nugate: await startNugateProcess({ name: `nugate-cold-${this.coldSeq}`, dir, upstream, ttl: TTL, core }), dir };
  }

  /**
   * A restore through a fresh nugate; `sample` receives its state once the restore is done, before it stops. With
   * `split`, nugate runs on core 0 and the client on core 1: a gateway on a machine of its own, as a team runs it.
   */
  private async throughCold(client: Client, upstream: string, sample: (s: ProcessSample) => void, split = false): Promise<number> {
    const { nugate, dir } = await this.coldNugate(upstream, split ? 0 : undefined);
    try {
      const ms = await client.restore({ kind: 'feed', url: `${nugate.url}/v3/index.json` }, split ? 1 : undefined);
      sample(await sampleNugate('after its cold restore', nugate));
      return ms;
    } finally {
      await nugate.proc.stop();
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /** Direct, cold, warm and local, `count` rounds. */
  async single(count: number): Promise<RestoreResults> {
    const client = await this.client(0);
    // One untimed, `count` rounds, and as many as may be redone.
    this.viewCount = count + this.redo + 1;
    const warm = await this.warm();
    const warmIndex = `${warm.url}/v3/index.json`;
    let coldSample: ProcessSample | undefined;
    const once = async (s: Series): Promise<Run> => {
      this.remote.resetStats();
      let ms: number;
      switch (s) {
        case 'direct':
          ms = await client.restore({ kind: 'feed', url: this.remote.indexUrl });
          break;
        case 'cold':
          ms = await this.throughCold(client, this.remote.indexUrl, (x) => (coldSample = x));
          break;
        case 'coldrun':
          ms = await client.restore({ kind: 'feed', url: await this.freshView() });
          break;
        case 'warm':
          ms = await client.restore({ kind: 'feed', url: warmIndex });
          break;
        case 'local':
          ms = await client.restore({ kind: 'folder', path: DEFAULT_PACKAGES_ROOT });
          break;
        case 'direct1':
          ms = await client.restore({ kind: 'feed', url: this.remote.indexUrl }, 1);
          break;
        case 'cold1':
          ms = await this.throughCold(client, this.remote.indexUrl, () => undefined, true);
          break;
      }
      return { ms, feed: this.remote.stats() };
    };
    const firstFill = await once('warm');
    this.log(`  restore: first through the warm nugate (fills it; not counted) ${(firstFill.ms / 1000).toFixed(2)} s, ${firstFill.feed?.requests ?? 0} feed requests`);
    // One untimed run of the others: the disk cache, dotnet's and nugate's JIT.
    for (const s of ['direct', 'cold', 'coldrun', 'local'] as const) await once(s);
    // On a machine of 2 cores the client and a nugate on the same machine compete for them (a dev-machine cache);
    // the one-core pair puts nugate on a core of its own, as a gateway on its own host would be.
    const series: Series[] = hasTaskset() ? ['direct', 'cold', 'coldrun', 'warm', 'local', 'direct1', 'cold1'] : ['direct', 'cold', 'coldrun', 'warm', 'local'];
    const single = await rounds<Series>(series, count, { label: 'restore', redo: this.redo, log: this.log }, once);
    const samples = [await sampleNugate('warm, after the single restores', warm), await sampleNugate('running, after its cold-cache restores', await this.running())];
    if (coldSample !== undefined) samples.unshift({ ...coldSample, scenario: 'cold, at the end of its restore (last round)' });
    return { dotnetVersion: this.dotnetVersion, profile: this.remote.profile, firstFillMs: firstFill.ms, single, samples };
  }

  /** `agents` isolated clients restoring at once: through the warm nugate, and from the local folder. */
  async batch(agents: number, count: number): Promise<BatchResults> {
    const clients: Client[] = [];
    for (let i = 0; i < agents; i++) clients.push(await this.client(i));
    const warm = await this.warm();
    const warmIndex = `${warm.url}/v3/index.json`;
    const once = async (s: 'warm' | 'local'): Promise<Run> => {
      this.remote.resetStats();
      const target: Target = s === 'warm' ? { kind: 'feed', url: warmIndex } : { kind: 'folder', path: DEFAULT_PACKAGES_ROOT };
      const started = performance.now();
      await Promise.all(clients.map((c) => c.restore(target)));
      return { ms: performance.now() - started, feed: this.remote.stats() };
    };
    // Untimed: the new clients' first dotnet run in their fresh HOMEs, which would otherwise weigh on round 1 only.
    const first = await once('local');
    this.log(`  ${agents} concurrent restores: untimed first batch from the local folder ${(first.ms / 1000).toFixed(2)} s`);
    const batch = await rounds<'warm' | 'local'>(['warm', 'local'], count, { label: `${agents} concurrent restores`, redo: this.redo, log: this.log }, once);
    return { agents, batch, samples: [await sampleNugate(`warm, after ${agents} concurrent restores`, warm)] };
  }

  /** The same project against a real feed: direct, through a cold nugate, through a warm one. */
  async upstream(url: string, count: number): Promise<UpstreamResults> {
    const client = await this.client(0);
    const warm = await startNugateProcess({ name: 'nugate-upstream', dir: join(this.dir, 'nugate-upstream'), upstream: url, ttl: TTL });
    try {
      let coldSample: ProcessSample | undefined;
      const once = async (s: 'direct' | 'cold' | 'warm'): Promise<Run> => {
        if (s === 'direct') return { ms: await client.restore({ kind: 'feed', url }) };
        if (s === 'cold') return { ms: await this.throughCold(client, url, (x) => (coldSample = x)) };
        return { ms: await client.restore({ kind: 'feed', url: `${warm.url}/v3/index.json` }) };
      };
      const fill = await once('warm');
      this.log(`  upstream: first through the warm nugate (fills it; not counted) ${(fill.ms / 1000).toFixed(2)} s`);
      const single = await rounds<'direct' | 'cold' | 'warm'>(['direct', 'cold', 'warm'], count, { label: 'upstream restore', redo: this.redo, log: this.log }, once);
      const samples = [await sampleNugate('real upstream, warm', warm)];
      if (coldSample !== undefined) samples.unshift({ ...coldSample, scenario: 'real upstream, cold (last round)' });
      return { url, single, samples };
    } finally {
      await warm.proc.stop();
    }
  }

  private async closeResources(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.cleanup()));
    this.clients = [];
    await this.remote.close();
  }

  async close(): Promise<void> {
    this.unregister();
    const warm = await this.warmNugate?.catch(() => undefined);
    await warm?.proc.stop();
    const running = await this.runningNugate?.catch(() => undefined);
    await running?.proc.stop();
    await this.closeResources();
  }
}
