/**
 * `npm run bench`: what users feel, in one run, ratios side by side, goals with PASS/MISS at the end.
 *
 * 1. Hits and misses (wrk): nugate against the nginx set-up ops would deploy instead (proxy_cache + sub_filter,
 *    bench/lib/nginx.ts) and against bare node:http (bench/bare.ts), all serving the same bodies from one origin
 *    (bench/origin.ts): a 2 KB registration index whose ~20 absolute URLs must be rewritten, and a 300 KB .nupkg.
 *    nugate runs as its own process (src/cli.ts), with the default V8 heap and with --max-semi-space-size=32; hits
 *    and misses each get their own processes, plus a diagnostic miss process with cache.store "memory". Hits are
 *    measured warm; the miss path (nugate's search vs nginx proxying search with sub_filter, no cache) sends a
 *    unique query per request. Besides req/s and latency, each run records the server's CPU µs per request
 *    (/proc), which other load on the machine disturbs far less than throughput.
 *    Load: wrk -t1 -c32 -d<N>s --latency, every scenario once per pass, passes repeated (interleaved A/B). With 2+
 *    cores, servers are pinned to core 0 and wrk + origin to core 1 (deps.md §3 "pinned").
 * 2. Restores with the real dotnet client and empty client caches (bench/lib/restore.ts): direct to a loopback feed
 *    that behaves like a remote one (bench/lib/remote-feed.ts: latency per request, set-up per new connection, a
 *    limited accept rate), through a cold nugate (a new process), through a running nugate holding nothing of the
 *    feed (a fresh upstream view per round), through a warm nugate, and from a local folder; interleaved
 *    rounds, order rotated, medians.
 * 3. N concurrent restores (N CI agents, each its own client caches) through the warm nugate vs the local folder.
 * 4. RSS of every nugate process at the end of its scenario (VmRSS) against cache.hotMaxSize, and from its /metrics
 *    the upstream requests, `nugate_upstream_connections_*` and the warming outcomes ("n/a" where missing).
 * 5. Only with --upstream URL (never by default, never in CI): the same restores against a real feed.
 *
 * Options: --seconds N (5) --passes N (2) --warmup N (3) --connections N (32)      wrk scenarios
 *          --restores N (7) --agents N (8) --batch-rounds N (3)                    restores
 *          --latency MS (40) --connect-delay MS (60) --accept-rate N/s (10) --accept-burst N (8)   the remote-like feed
 *          --redo N (disturbed runs redone; default 3 restore rounds per scenario, max(4, 60/seconds) wrk runs)
 *          --upstream URL --no-hits --no-restore --no-batch --no-pin
 *          --cpu-prof (writes a V8 CPU profile of the hit-path nugate to a temp dir)
 * Exit code: 0 when the bench ran (whether or not goals were met), 1 when it could not run.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LOWER_ID, NUPKG_VERSION, buildNupkg } from './lib/feed.ts';
import { startNginx } from './lib/nginx.ts';
import { REPO_ROOT, sampleNugate, startNugateProcess, type ProcessSample } from './lib/nugate.ts';
import { commandExists, freePort, hasTaskset, jsonUrlLine, start, stopAll, waitForLine, type Proc } from './lib/procs.ts';
import { PROJECT_TITLE, RestoreLab, SERIES_TITLE, median, type BatchResults, type RestoreResults, type Run, type Series, type UpstreamResults } from './lib/restore.ts';
import { DEFAULT_PROFILE, describeProfile, type RemoteProfile } from './lib/remote-feed.ts';
import { UNIQUE_QUERY_LUA, wrk, type WrkResult } from './lib/wrk.ts';
import { cpuMs, foreignCores, machineBusy, snapshot } from './lib/cpu.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    passes: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    restores: { type: 'string', default: '7' },
    agents: { type: 'string', default: '8' },
    'batch-rounds': { type: 'string', default: '3' },
    latency: { type: 'string', default: String(DEFAULT_PROFILE.latencyMs) },
    'connect-delay': { type: 'string', default: String(DEFAULT_PROFILE.connectMs) },
    'accept-rate': { type: 'string', default: String(DEFAULT_PROFILE.acceptRate) },
    'accept-burst': { type: 'string', default: String(DEFAULT_PROFILE.acceptBurst) },
    redo: { type: 'string' },
    upstream: { type: 'string' },
    'no-hits': { type: 'boolean', default: false },
    'no-restore': { type: 'boolean', default: false },
    'no-batch': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
function intOption(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`bench: --${name} must be an integer >= ${min}, got "${text ?? ''}"\n`);
    process.exit(2);
  }
  return n;
}
const SECONDS = intOption('seconds', opts.seconds, 1);
const PASSES = intOption('passes', opts.passes, 1);
const WARMUP = intOption('warmup', opts.warmup, 0);
const CONNECTIONS = intOption('connections', opts.connections, 1);
const RESTORES = intOption('restores', opts.restores, 1);
const AGENTS = intOption('agents', opts.agents, 1);
const BATCH_ROUNDS = intOption('batch-rounds', opts['batch-rounds'], 1);
const PROFILE: RemoteProfile = {
  latencyMs: intOption('latency', opts.latency, 0),
  connectMs: intOption('connect-delay', opts['connect-delay'], 0),
  acceptRate: intOption('accept-rate', opts['accept-rate'], 0),
  acceptBurst: intOption('accept-burst', opts['accept-burst'], 1),
};
/**
 * Disturbed runs that may be redone: restore rounds per scenario (default 3); when given, also the budget for wrk
 * runs (default max(4, 60 / seconds)). `--redo 0` keeps a quick check quick on a busy machine.
 */
const REDO = opts.redo === undefined ? 3 : intOption('redo', opts.redo, 0);
const UPSTREAM = opts.upstream;
if (UPSTREAM !== undefined && !/^https?:\/\/\S+$/.test(UPSTREAM)) {
  process.stderr.write(`bench: --upstream must be the http(s) URL of a V3 service index, got "${UPSTREAM}"\n`);
  process.exit(2);
}
const HITS = !opts['no-hits'];
const RESTORE = !opts['no-restore'];
const BATCH = RESTORE && !opts['no-batch'];

const log = (line: string): void => void process.stdout.write(`${line}\n`);

type Group = 'json' | 'nupkg' | 'miss';
type Server = 'nugate' | 'nugate32' | 'nugatemem' | 'nginx' | 'bare';

interface Scenario {
  group: Group;
  server: Server;
  label: string;
  url: string;
  /** The server process, for CPU time (nginx: the master, counted with its worker). */
  pid: number;
  withChildren: boolean;
  /** Miss scenarios: path the unique-query script requests. */
  uniquePath?: string;
}

interface Measured {
  scenario: Scenario;
  runs: WrkResult[];
  /** Upstream requests per client request, per run. */
  upstreamPerRequest: number[];
  /** CPU µs the server process used per request, per run. */
  cpuPerRequest: number[];
  /** CPU (in cores) that processes other than the bench's used during each run. */
  foreign: number[];
}

/** A run during which other processes used more than this many cores is redone (within the retry budget). */
const DISTURBED_CORES = 0.15;

const GROUP_TITLE: Record<Group, string> = {
  json: '2 KB JSON hit (rewritten URLs)',
  nupkg: '300 KB nupkg hit',
  miss: '2 KB miss + rewrite (upstream every request)',
};
const SERVER_TITLE: Record<Server, string> = {
  nugate: 'nugate',
  nugate32: 'nugate, --max-semi-space-size=32',
  nugatemem: 'nugate, cache.store "memory" (diagnostic)',
  nginx: 'nginx 1 worker',
  bare: 'bare node:http',
};

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  throw new BenchError(message);
}
class BenchError extends Error {}

function checkTools(): void {
  const missing: string[] = [];
  if (!commandExists('wrk', ['-v'])) missing.push('wrk (Debian: apt-get install -y wrk)');
  if (!commandExists('nginx', ['-v'])) missing.push('nginx (Debian: apt-get install -y nginx)');
  if (missing.length > 0) fail(`missing tools: ${missing.join('; ')}. The benchmark needs both; nothing was measured.`);
}

function machine(withTools: boolean): string[] {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) model = m[1].trim();
  } catch {
    // not Linux
  }
  const memory = `${Math.round(totalmem() / 1024 ** 3)} GB`;
  const versions = [`node ${process.version}`];
  if (withTools) {
    const nginxV = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
    const wrkV = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
    versions.push(`nginx ${/nginx\/(\S+)/.exec(`${nginxV.stderr}${nginxV.stdout}`)?.[1] ?? '?'}`, `wrk ${/wrk (\S+)/.exec(`${wrkV.stdout}${wrkV.stderr}`)?.[1] ?? '?'}`);
  }
  return [`${cpus().length} × ${model}, ${memory}, Linux ${release()}`, versions.join(', ')];
}

async function getText(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function originRequests(origin: string): Promise<number> {
  const r = await getText(`${origin}/__stats`);
  return (JSON.parse(r.body.toString('utf8')) as { total: number }).total;
}

/** Fetches `url` until it is a cache hit (nugate's X-Cache, nginx's $upstream_cache_status), checking the body. */
async function warm(url: string, check: (body: Buffer) => string | undefined, wantHit: boolean): Promise<number> {
  let last = '';
  for (let i = 0; i < 5; i++) {
    const r = await getText(url);
    if (r.status !== 200) fail(`GET ${url} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    const problem = check(r.body);
    if (problem !== undefined) fail(`GET ${url}: ${problem}`);
    last = r.headers.get('x-cache') ?? '';
    if (!wantHit || last === 'HIT') return r.body.length;
    await new Promise((res) => setTimeout(res, 100));
  }
  return fail(`GET ${url} is not a cache hit after 5 tries (X-Cache: ${last})`);
}

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
}

interface HitResults {
  measured: Measured[];
  sizes: Record<string, number>;
  retried: number;
  samples: ProcessSample[];
}

/** Section 1: hits and misses under wrk, nugate vs nginx vs bare node:http. */
async function hitsBench(dir: string, pin: boolean): Promise<HitResults> {
  const SERVER_CORE = pin ? 0 : undefined;
  const LOAD_CORE = pin ? 1 : undefined;
  const nupkgPath = join(dir, `${LOWER_ID}.${NUPKG_VERSION}.nupkg`);
  const nupkg = buildNupkg(NUPKG_VERSION);
  await writeFile(nupkgPath, nupkg);
  const tsx = ['--import', 'tsx'];
  const origin: Proc = start('origin', process.execPath, [...tsx, 'bench/origin.ts', '--nupkg', nupkgPath], { cwd: REPO_ROOT, core: LOAD_CORE });
  const originUrl = await waitForLine(origin, jsonUrlLine('origin listening'));
  const bare: Proc = start('bare', process.execPath, [...tsx, 'bench/bare.ts', '--nupkg', nupkgPath], { cwd: REPO_ROOT, core: SERVER_CORE });
  const bareUrl = await waitForLine(bare, jsonUrlLine('bare listening'));
  const upstream = `${originUrl}/v3/index.json`;
  // Metadata TTL 1h (default 5m): the whole run must measure the hit path, never an expiry in the middle.
  const ttl = { metadata: '1h', search: '1m' };
  // Outside the work tree and outside `dir` (which is removed at the end).
  const profDir = join(tmpdir(), `nugate-bench-profiles-${Date.now()}`);
  if (opts['cpu-prof']) await mkdir(profDir, { recursive: true });
  const nugate = await startNugateProcess({
    name: 'nugate',
    dir: join(dir, 'nugate'),
    upstream,
    core: SERVER_CORE,
    ttl,
    ...(opts['cpu-prof'] ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] } : {}),
  });
  const nugate32 = await startNugateProcess({ name: 'nugate32', dir: join(dir, 'nugate32'), upstream, core: SERVER_CORE, ttl, nodeOptions: '--max-semi-space-size=32' });
  // The miss path gets processes of its own: every miss is cached, so its heap grows by ~10 KB a request, and
  // that must not leak into the hit measurements (nor the hits' history into the misses).
  const missDefault = await startNugateProcess({ name: 'nugate-miss', dir: join(dir, 'nugate-miss'), upstream, core: SERVER_CORE, ttl });
  const miss32 = await startNugateProcess({ name: 'nugate32-miss', dir: join(dir, 'nugate32-miss'), upstream, core: SERVER_CORE, ttl, nodeOptions: '--max-semi-space-size=32' });
  // Diagnostic: the same, with the metadata tier in memory instead of one file per document under cache.dir.
  const missMem = await startNugateProcess({ name: 'nugatemem-miss', dir: join(dir, 'nugatemem-miss'), upstream, core: SERVER_CORE, ttl, store: 'memory' });
  const nginxPort = await freePort();
  const nginx = await startNginx({ dir: join(dir, 'nginx'), port: nginxPort, origin: originUrl, core: SERVER_CORE });
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  for (let i = 0; ; i++) {
    if (nginx.exited) fail(`nginx exited at start:\n${nginx.logs()}\n${readFileSync(join(dir, 'nginx', 'error.log'), 'utf8')}`);
    const ok = await fetch(`${nginxUrl}/flat/${LOWER_ID}/index.json`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100) fail('nginx did not answer within 5 s');
    await new Promise((res) => setTimeout(res, 50));
  }

  // ---- warm every hit path, and check that every server serves what it should ----
  const noOrigin = (body: Buffer): string | undefined => (body.toString('latin1').includes(originUrl) ? `the body still holds the upstream origin ${originUrl}` : undefined);
  const sameNupkg = (body: Buffer): string | undefined => (body.equals(nupkg) ? undefined : `the package differs from the origin's (${body.length} bytes)`);
  const noCheck = (): undefined => undefined;
  const regPath = (base: string): string => `${base}/v3/registration/${LOWER_ID}/index.json`;
  const nupkgNugate = (base: string): string => `${base}/v3/flatcontainer/${LOWER_ID}/${NUPKG_VERSION}/${LOWER_ID}.${NUPKG_VERSION}.nupkg`;
  const sizes: Record<string, number> = {};
  for (const [name, base] of [['nugate', nugate.url], ['nugate32', nugate32.url]] as const) {
    sizes[`json:${name}`] = await warm(regPath(base), noOrigin, true);
    sizes[`nupkg:${name}`] = await warm(nupkgNugate(base), sameNupkg, true);
  }
  for (const [name, base] of [['nugate', missDefault.url], ['nugate32', miss32.url], ['nugatemem', missMem.url]] as const) {
    sizes[`miss:${name}`] = await warm(`${base}/v3/search?q=check&take=20`, noOrigin, false);
  }
  sizes['json:nginx'] = await warm(`${nginxUrl}/reg/${LOWER_ID}/index.json`, noOrigin, true);
  sizes['nupkg:nginx'] = await warm(`${nginxUrl}/flat/${LOWER_ID}/${NUPKG_VERSION}/${LOWER_ID}.${NUPKG_VERSION}.nupkg`, sameNupkg, true);
  sizes['miss:nginx'] = await warm(`${nginxUrl}/query?q=check&take=20`, noOrigin, false);
  sizes['json:bare'] = await warm(`${bareUrl}/json`, noCheck, false);
  sizes['nupkg:bare'] = await warm(`${bareUrl}/nupkg`, sameNupkg, false);

  const scenarios: Scenario[] = [];
  const add = (group: Group, server: Server, proc: Proc, url: string, uniquePath?: string): void => {
    const label = `${GROUP_TITLE[group]}: ${SERVER_TITLE[server]}`;
    scenarios.push({ group, server, label, url, pid: proc.pid, withChildren: server === 'nginx', ...(uniquePath === undefined ? {} : { uniquePath }) });
  };
  add('json', 'nugate', nugate.proc, regPath(nugate.url));
  add('json', 'nginx', nginx, `${nginxUrl}/reg/${LOWER_ID}/index.json`);
  add('json', 'bare', bare, `${bareUrl}/json`);
  add('json', 'nugate32', nugate32.proc, regPath(nugate32.url));
  add('nupkg', 'nugate', nugate.proc, nupkgNugate(nugate.url));
  add('nupkg', 'nginx', nginx, `${nginxUrl}/flat/${LOWER_ID}/${NUPKG_VERSION}/${LOWER_ID}.${NUPKG_VERSION}.nupkg`);
  add('nupkg', 'bare', bare, `${bareUrl}/nupkg`);
  add('nupkg', 'nugate32', nugate32.proc, nupkgNugate(nugate32.url));
  add('miss', 'nugate', missDefault.proc, missDefault.url, '/v3/search');
  add('miss', 'nginx', nginx, nginxUrl, '/query');
  add('miss', 'nugate32', miss32.proc, miss32.url, '/v3/search');
  add('miss', 'nugatemem', missMem.proc, missMem.url, '/v3/search');

  const lua = join(dir, 'unique-query.lua');
  await writeFile(lua, UNIQUE_QUERY_LUA);
  let runSeq = 0;
  const load = async (s: Scenario, seconds: number): Promise<{ result: WrkResult; upstreamPerRequest: number; cpuPerRequest: number; foreign: number }> => {
    const before = await originRequests(originUrl);
    const cpuBefore = cpuMs(s.pid, s.withChildren);
    const machineBefore = snapshot();
    const result = await wrk({
      url: s.url,
      connections: CONNECTIONS,
      seconds,
      core: LOAD_CORE,
      ...(s.uniquePath === undefined ? {} : { script: lua, scriptArgs: [`r${Date.now().toString(36)}x${++runSeq}`, s.uniquePath] }),
    });
    const foreign = foreignCores(machineBefore, snapshot());
    const cpuAfter = cpuMs(s.pid, s.withChildren);
    const after = await originRequests(originUrl);
    const per = (n: number): number => (result.requests > 0 ? n / result.requests : Number.NaN);
    return { result, upstreamPerRequest: per(after - before), cpuPerRequest: per((cpuAfter - cpuBefore) * 1000), foreign };
  };

  log(`hits and misses: ${scenarios.length} scenarios, warm-up ${WARMUP} s each, then ${PASSES} passes of ${SECONDS} s`);
  if (WARMUP > 0) for (const s of scenarios) await load(s, WARMUP);

  const measured: Measured[] = scenarios.map((scenario) => ({ scenario, runs: [], upstreamPerRequest: [], cpuPerRequest: [], foreign: [] }));
  // This machine is shared: a run during which something else used the CPU is redone, a few times at most.
  let retriesLeft = opts.redo === undefined ? Math.max(4, Math.floor(60 / SECONDS)) : REDO;
  let retried = 0;
  for (let pass = 1; pass <= PASSES; pass++) {
    log(`pass ${pass}/${PASSES}`);
    for (const m of measured) {
      let run = await load(m.scenario, SECONDS);
      while (run.foreign > DISTURBED_CORES && retriesLeft > 0) {
        retriesLeft--;
        retried++;
        log(`  ${m.scenario.label.padEnd(82)} disturbed (other processes used ${f2(run.foreign)} cores), run again`);
        run = await load(m.scenario, SECONDS);
      }
      const { result, upstreamPerRequest, cpuPerRequest, foreign } = run;
      m.runs.push(result);
      m.upstreamPerRequest.push(upstreamPerRequest);
      m.cpuPerRequest.push(cpuPerRequest);
      m.foreign.push(foreign);
      log(`  ${m.scenario.label.padEnd(82)} ${f0(result.rps).padStart(7)} req/s  p50 ${f2(result.p50Ms)} ms  p99 ${f2(result.p99Ms)} ms  ${f0(cpuPerRequest)} CPU µs/req${foreign > DISTURBED_CORES ? `  (other load ${f2(foreign)} cores)` : ''}${result.errors > 0 ? `  ERRORS ${result.errors}` : ''}`);
    }
  }
  for (const p of [nugate.proc, nugate32.proc, missDefault.proc, miss32.proc, missMem.proc, nginx, bare]) if (p.exited) fail(`${p.name} died during the run:\n${p.logs().slice(-3000)}`);
  const samples = [
    await sampleNugate('2 KB JSON + 300 KB nupkg hits', nugate),
    await sampleNugate('the same hits, --max-semi-space-size=32', nugate32),
    await sampleNugate('2 KB misses (every miss cached)', missDefault),
    await sampleNugate('the same misses, --max-semi-space-size=32', miss32),
    await sampleNugate('the same misses, cache.store "memory"', missMem),
  ];
  // The servers of this section are done: stop them so the restores that follow have the machine to themselves.
  await Promise.all([nugate.proc, nugate32.proc, missDefault.proc, miss32.proc, missMem.proc, nginx, bare, origin].map((p) => p.stop()));
  if (opts['cpu-prof']) log(`CPU profile of the default hit-path nugate written to ${profDir}`);
  return { measured, sizes, retried, samples };
}

async function main(): Promise<void> {
  if (HITS) checkTools();
  const pin = !opts['no-pin'] && cpus().length >= 2 && hasTaskset();
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'nugate-bench-'));
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await stopAll();
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    log('# nugate benchmark');
    for (const l of machine(HITS)) log(`machine: ${l}`);
    if (HITS) log(`load: wrk -t1 -c${CONNECTIONS} -d${SECONDS}s --latency, ${PASSES} interleaved passes, ${WARMUP} s warm-up per scenario; ${pin ? 'servers pinned to core 0, wrk + origin to core 1' : 'unpinned'}`);
    if (RESTORE) log(`restores: ${PROJECT_TITLE}, empty client caches, ${RESTORES} rounds${BATCH ? `; ${AGENTS} concurrent restores, ${BATCH_ROUNDS} rounds` : ''}; unpinned`);
    if (RESTORE) log(`remote-like feed: ${describeProfile(PROFILE)}`);
    if (UPSTREAM !== undefined) log(`real upstream (optional run, --upstream): ${UPSTREAM}, ${RESTORES} rounds`);
    const busy = await machineBusy(2000);
    log(`CPU busy before start (2 s, all cores): ${Number.isFinite(busy) ? `${Math.round(busy * 100)}%` : 'unknown'}, load average ${(loadavg()[0] ?? 0).toFixed(2)}`);
    if (busy > 0.1) log('WARNING: something else is using the CPU: req/s, p99 and restore times will be noisy (CPU µs/req much less so)');
    log('');

    const hits = HITS ? await hitsBench(dir, pin) : undefined;

    let restores: RestoreResults | undefined;
    let batch: BatchResults | undefined;
    let upstream: UpstreamResults | undefined;
    if (RESTORE || UPSTREAM !== undefined) {
      const lab = await RestoreLab.start({ dir, profile: PROFILE, redo: REDO, log });
      try {
        if (RESTORE) {
          log('');
          log(`dotnet ${lab.dotnetVersion} restore, ${RESTORES} rounds of direct / cold (new process) / coldrun (running process, nothing held) / warm / local (and, with taskset, direct and cold with the client on one core and nugate on the other), order rotated`);
          restores = await lab.single(RESTORES);
        }
        if (BATCH) {
          log('');
          log(`${AGENTS} concurrent restores, ${BATCH_ROUNDS} rounds of warm nugate / local folder`);
          batch = await lab.batch(AGENTS, BATCH_ROUNDS);
        }
        if (UPSTREAM !== undefined) {
          log('');
          log(`real upstream ${UPSTREAM}: ${RESTORES} rounds of direct / cold / warm`);
          upstream = await lab.upstream(UPSTREAM, RESTORES);
        }
      } finally {
        await lab.close();
      }
    }

    report({ started, hits, restores, batch, upstream });
  } finally {
    // Also when interrupted: the same cleanup promise the signal handler waits for.
    await cleanup();
  }
}

const secs = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const medianOf = (runs: Run[], f: (r: Run) => number | undefined): number => median(runs.map((r) => f(r) ?? Number.NaN));

interface Goal {
  name: string;
  goal: string;
  value: number;
  value32: number;
  /** The same ratio from CPU µs per request (a cross-check less sensitive to other load). */
  byCpu: number;
  /** Absent: a reference figure without a goal ("info"). */
  ok?: (v: number) => boolean;
  show: (v: number) => string;
}

function report(r: { started: number; hits?: HitResults | undefined; restores?: RestoreResults | undefined; batch?: BatchResults | undefined; upstream?: UpstreamResults | undefined }): void {
  const goals: Goal[] = [];
  const ratio = (v: number): string => `${f2(v)}×`;
  const ms = (v: number): string => `${f2(v)} ms`;
  const us = (v: number): string => `${f0(v)} µs`;
  log('');
  log(`## Results (${new Date().toISOString().slice(0, 10)}, ${Math.round((Date.now() - r.started) / 1000)} s)`);

  if (r.hits !== undefined) {
    const { measured, sizes, retried } = r.hits;
    const find = (group: Group, server: Server): Measured | undefined => measured.find((m) => m.scenario.group === group && m.scenario.server === server);
    const rpsOf = (group: Group, server: Server): number => mean(find(group, server)?.runs.map((x) => x.rps) ?? []);
    const p99Of = (group: Group, server: Server): number => Math.max(...(find(group, server)?.runs.map((x) => x.p99Ms) ?? []));
    const cpuOf = (group: Group, server: Server): number => mean(find(group, server)?.cpuPerRequest ?? []);
    /** The reference's CPU µs per request over nugate's: the throughput ratio a CPU-bound, undisturbed run would show. */
    const cpuRatio = (group: Group, server: Server, ref: Server): number => cpuOf(group, ref) / cpuOf(group, server);
    const rpsRatio = (group: Group, server: Server, ref: Server): number => rpsOf(group, server) / rpsOf(group, ref);
    log('');
    log('### Hits and misses: nugate, nginx proxy_cache + sub_filter, bare node:http');
    log('');
    log(`req/s, p50, p99, CPU µs/req (server process, nginx with its worker), upstream requests per request and other load (cores used by processes outside the bench) per pass; vs nginx / vs bare = mean req/s ratio. Runs redone because of other load: ${retried}.`);
    log('');
    const slash = (xs: number[], f: (n: number) => string): string => xs.map(f).join(' / ');
    log(
      table(
        ['scenario', 'server', 'body B', 'req/s (passes)', 'p50 ms', 'p99 ms', 'CPU µs/req', 'errors', 'upstream/req', 'other load', 'vs nginx', 'vs bare'],
        measured.map((m) => {
          const { group, server } = m.scenario;
          const errors = m.runs.reduce((n, x) => n + x.errors, 0);
          return [
            GROUP_TITLE[group],
            SERVER_TITLE[server],
            String(sizes[`${group}:${server}`] ?? '-'),
            slash(m.runs.map((x) => x.rps), f0),
            slash(m.runs.map((x) => x.p50Ms), f2),
            slash(m.runs.map((x) => x.p99Ms), f2),
            slash(m.cpuPerRequest, f0),
            String(errors),
            slash(m.upstreamPerRequest, f2),
            slash(m.foreign, f2),
            f2(rpsRatio(group, server, 'nginx')),
            find(group, 'bare') === undefined ? '-' : f2(rpsRatio(group, server, 'bare')),
          ];
        }),
      ).join('\n'),
    );
    const withErrors = measured.filter((m) => m.runs.some((x) => x.errors > 0));
    if (withErrors.length > 0) log(`\nwarning: errors in ${withErrors.map((m) => m.scenario.label).join('; ')}`);
    const leakyHits = measured.filter((m) => m.scenario.group !== 'miss' && m.scenario.server !== 'bare' && m.upstreamPerRequest.some((x) => x > 0.001));
    if (leakyHits.length > 0) log(`\nwarning: hit scenarios that reached the upstream: ${leakyHits.map((m) => m.scenario.label).join('; ')}`);
    goals.push(
      { name: '2 KB JSON hit vs nginx proxy_cache + sub_filter', goal: '≥ 1.0×', value: rpsRatio('json', 'nugate', 'nginx'), value32: rpsRatio('json', 'nugate32', 'nginx'), byCpu: cpuRatio('json', 'nugate', 'nginx'), ok: (v) => v >= 1.0, show: ratio },
      { name: '300 KB nupkg hit vs bare node:http', goal: '≥ 0.9×', value: rpsRatio('nupkg', 'nugate', 'bare'), value32: rpsRatio('nupkg', 'nugate32', 'bare'), byCpu: cpuRatio('nupkg', 'nugate', 'bare'), ok: (v) => v >= 0.9, show: ratio },
      { name: `p99 of hits at ${CONNECTIONS} connections (worst of JSON, nupkg, all passes)`, goal: '≤ 5 ms', value: Math.max(p99Of('json', 'nugate'), p99Of('nupkg', 'nugate')), value32: Math.max(p99Of('json', 'nugate32'), p99Of('nupkg', 'nugate32')), byCpu: Number.NaN, ok: (v) => v <= 5, show: ms },
      { name: '2 KB search miss + rewrite: nugate CPU per request', goal: '≤ 80 µs', value: cpuOf('miss', 'nugate'), value32: cpuOf('miss', 'nugate32'), byCpu: Number.NaN, ok: (v) => v <= 80, show: us },
      { name: '300 KB nupkg hit vs nginx proxy_cache', goal: '≥ 1.2×', value: rpsRatio('nupkg', 'nugate', 'nginx'), value32: rpsRatio('nupkg', 'nugate32', 'nginx'), byCpu: cpuRatio('nupkg', 'nugate', 'nginx'), ok: (v) => v >= 1.2, show: ratio },
      { name: '2 KB miss + rewrite vs nginx proxy + sub_filter', goal: '-', value: rpsRatio('miss', 'nugate', 'nginx'), value32: rpsRatio('miss', 'nugate32', 'nginx'), byCpu: cpuRatio('miss', 'nugate', 'nginx'), show: ratio },
    );
  }

  const feedCell = (runs: Run[], f: (x: NonNullable<Run['feed']>) => number, show: (n: number) => string = f0): string =>
    runs.every((x) => x.feed === undefined) ? '-' : show(medianOf(runs, (x) => (x.feed === undefined ? undefined : f(x.feed))));
  if (r.restores !== undefined) {
    const { single, dotnetVersion, profile, firstFillMs } = r.restores;
    const order = (['direct', 'cold', 'coldrun', 'warm', 'local', 'direct1', 'cold1'] as const).filter((s) => single.runs[s] !== undefined);
    const med = (s: Series): number => medianOf(single.runs[s] ?? [], (x) => x.ms);
    const direct = med('direct');
    log('');
    log(`### Restores: ${PROJECT_TITLE}, empty client caches, dotnet ${dotnetVersion}`);
    log('');
    log(`The feed behaves like a remote one: ${describeProfile(profile)}. feed columns: medians of what it saw during one restore (requests, connections opened, most open at once, time new connections spent queued for the accept rate).`);
    log('');
    log(
      table(
        ['restore', 'median s', 'runs s', 'vs direct', 'feed requests', 'feed conns', 'peak open', 'queued s'],
        order.map((s) => {
          const runs = single.runs[s];
          // The one-core pair is compared with itself: direct with the client on one core.
          return [SERIES_TITLE[s], secs(med(s)), runs.map((x) => secs(x.ms)).join(' / '), f2(med(s) / (s === 'cold1' || s === 'direct1' ? med('direct1') : direct)), feedCell(runs, (x) => x.requests), feedCell(runs, (x) => x.connections), feedCell(runs, (x) => x.peakConnections), feedCell(runs, (x) => x.queuedMs, secs)];
        }),
      ).join('\n'),
    );
    log(`(the restore that filled the warm nugate: ${secs(firstFillMs)} s; rounds redone because of other load: ${single.redone})`);
    // The local folder is the floor of any restore (no network at all): a goal below it cannot be met by a feed.
    log(`(floor: the local folder restore is ${f2(med('local') / direct)}× direct; no feed, nugate included, restores faster than the local folder)`);
    goals.push(
      { name: `cold restore through a new nugate process vs direct (median ${secs(med('cold'))} s / ${secs(direct)} s)`, goal: '≤ 0.8×', value: med('cold') / direct, value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 0.8, show: ratio },
      { name: `cold restore through a running nugate (nothing of the feed held) vs direct (median ${secs(med('coldrun'))} s / ${secs(direct)} s)`, goal: '≤ 0.8×', value: med('coldrun') / direct, value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 0.8, show: ratio },
      { name: `warm restore through nugate vs direct (median ${secs(med('warm'))} s / ${secs(direct)} s)`, goal: '≤ 0.5×', value: med('warm') / direct, value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 0.5, show: ratio },
      { name: `warm restore vs local folder (median ${secs(med('warm'))} s / ${secs(med('local'))} s)`, goal: '≤ 1.1×', value: med('warm') / med('local'), value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 1.1, show: ratio },
    );
    // The bar: a first restore through nugate is no slower than going direct (without taskset there is no pair).
    if (order.includes('cold1')) {
      goals.push({ name: `cold restore, nugate on its own core vs direct, client on one core (${secs(med('cold1'))} s / ${secs(med('direct1'))} s)`, goal: '≤ 1.0×', value: med('cold1') / med('direct1'), value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 1.0, show: ratio });
    }
  }

  if (r.batch !== undefined) {
    const { agents, batch } = r.batch;
    const med = (s: 'warm' | 'local'): number => medianOf(batch.runs[s], (x) => x.ms);
    log('');
    log(`### ${agents} concurrent restores (${agents} CI agents, each its own empty client caches): wall time of the batch`);
    log('');
    log(
      table(
        [`${agents} restores at once`, 'median s', 'runs s', 'vs local folder', 'feed requests'],
        (['warm', 'local'] as const).map((s) => [SERIES_TITLE[s], secs(med(s)), batch.runs[s].map((x) => secs(x.ms)).join(' / '), f2(med(s) / med('local')), feedCell(batch.runs[s], (x) => x.requests)]),
      ).join('\n'),
    );
    log(`(rounds redone because of other load: ${batch.redone})`);
    goals.push({ name: `${agents} concurrent restores, warm nugate vs local folder (median ${secs(med('warm'))} s / ${secs(med('local'))} s)`, goal: '-', value: med('warm') / med('local'), value32: Number.NaN, byCpu: Number.NaN, show: ratio });
  }

  if (r.upstream !== undefined) {
    const { url, single } = r.upstream;
    const order = ['direct', 'cold', 'warm'] as const;
    const med = (s: (typeof order)[number]): number => medianOf(single.runs[s], (x) => x.ms);
    log('');
    log(`### Real upstream (optional --upstream run, not part of the standard figures): ${url}`);
    log('');
    log(
      table(
        ['restore', 'median s', 'runs s', 'vs direct'],
        order.map((s) => [SERIES_TITLE[s], secs(med(s)), single.runs[s].map((x) => secs(x.ms)).join(' / '), f2(med(s) / med('direct'))]),
      ).join('\n'),
    );
    log(`(rounds redone because of other load: ${single.redone})`);
    goals.push(
      { name: `real upstream: cold restore vs direct (${secs(med('cold'))} s / ${secs(med('direct'))} s)`, goal: '≤ 0.8×', value: med('cold') / med('direct'), value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 0.8, show: ratio },
      { name: `real upstream: warm restore vs direct (${secs(med('warm'))} s / ${secs(med('direct'))} s)`, goal: '≤ 0.5×', value: med('warm') / med('direct'), value32: Number.NaN, byCpu: Number.NaN, ok: (v) => v <= 0.5, show: ratio },
    );
  }

  const samples = [...(r.hits?.samples ?? []), ...(r.restores?.samples ?? []), ...(r.batch?.samples ?? []), ...(r.upstream?.samples ?? [])];
  if (samples.length > 0) {
    const mb = (n: number): string => (Number.isFinite(n) ? f0(n / 1024 / 1024) : 'n/a');
    log('');
    log('### nugate processes at the end of each scenario');
    log('');
    log(
      table(
        ['nugate process, at the end of', 'RSS MB', 'cache.hotMaxSize MB', 'RSS / hotMaxSize', 'upstream (/metrics)', 'warming (/metrics)'],
        samples.map((x) => [x.scenario, mb(x.rss), mb(x.hotMaxSize), f2(x.rss / x.hotMaxSize), x.upstream, x.warm]),
      ).join('\n'),
    );
  }

  log('');
  log('### Goals');
  log('');
  log(
    table(
      ['goal', 'target', 'nugate', 'result', 'with --max-semi-space-size=32', 'from CPU µs/req'],
      goals.map((g) => [
        g.name,
        g.goal,
        Number.isFinite(g.value) ? g.show(g.value) : 'n/a',
        g.ok === undefined ? 'info' : Number.isFinite(g.value) && g.ok(g.value) ? 'PASS' : 'MISS',
        Number.isFinite(g.value32) ? g.show(g.value32) : 'n/a',
        Number.isFinite(g.byCpu) ? g.show(g.byCpu) : 'n/a',
      ]),
    ).join('\n'),
  );
}


/** Set by a SIGINT/SIGTERM; the signal handler then owns the exit (130) once everything is stopped. */
let interrupted = false;

main().then(
  () => {
    if (!interrupted) process.exit(0);
  },
  (err: unknown) => {
    if (interrupted) return;
    if (!(err instanceof BenchError)) process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
