/**
 * Memory soak (issue 8 "bounded state"): nugate as an operator runs it, in front of an upstream that flaps (healthy,
 * then answering 500s or resetting connections, in turns), under a steady mix of requests that creates every kind of
 * state: distinct unknown ids (negative entries), known ids (versions, registrations), packages, random searches. RSS
 * is sampled every few seconds; the verdict is whether it plateaus within `cache.hotMaxSize` plus a stated overhead.
 *
 *   npm run soak                      # 10 minutes
 *   npm run soak -- --minutes 2 --hot 32MB
 *
 * Loopback only. Prints one table and a PASS/MISS line; exit code 0 either way (a measurement, not a test).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeUpstream, type FakePackage } from '../test/helpers/fake-upstream.ts';
import { jsonUrlLine, start, waitForLine } from './lib/procs.ts';
import { REPO_ROOT, rssBytes } from './lib/nugate.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    hot: { type: 'string', default: '64MB' },
    concurrency: { type: 'string', default: '16' },
    flap: { type: 'string', default: '5' },
  },
});
const minutes = Number(values.minutes);
const concurrency = Number(values.concurrency);
const flapSeconds = Number(values.flap);
/** What nugate keeps besides the hot tier: V8 and the modules (~90 MB here), metadata bookkeeping, render memos. */
const STATED_OVERHEAD = 160 * 1024 * 1024;

const MB = 1024 * 1024;
const hotBytes = /^(\d+)MB$/i.exec(values.hot ?? '')?.[1] === undefined ? 64 * MB : Number(/^(\d+)MB$/i.exec(values.hot ?? '')?.[1]) * MB;

const packages: FakePackage[] = [];
for (let i = 0; i < 40; i++) packages.push({ id: `Soak.Pkg${i}`, version: '1.0.0', padding: 64 * 1024 }, { id: `Soak.Pkg${i}`, version: '1.1.0' });
const up = await startFakeUpstream(packages);
const dir = await mkdtemp(join(tmpdir(), 'nugate-soak-'));
const configPath = join(dir, 'nugate.json');
await writeFile(
  configPath,
  JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    upstreams: [{ name: 'flappy', url: up.indexUrl, timeout: '2s', maxFails: 3, failTimeout: '2s' }],
    cache: { dir: join(dir, 'cache'), hotMaxSize: hotBytes, ttl: { metadata: '20s', notFound: '20s', search: '10s' } },
    log: { level: 'info' },
  }),
);
const proc = start('nugate', process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', configPath], { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production' } });
const base = (await waitForLine(proc, jsonUrlLine('nugate listening'), 30_000)).replace('://0.0.0.0', '://127.0.0.1');
const pid = proc.pid;

let served = 0;
let failed = 0;
let n = 0;
const deadline = Date.now() + minutes * 60_000;

function nextPath(): string {
  n++;
  const k = n % 10;
  const pkg = `soak.pkg${n % 40}`;
  if (k < 3) return `/v3/flatcontainer/unknown.id${n}/index.json`; // a new negative entry every time
  if (k < 5) return `/v3/flatcontainer/${pkg}/index.json`;
  if (k < 6) return `/v3/registration/${pkg}/index.json`;
  if (k < 8) return `/v3/flatcontainer/${pkg}/1.0.0/${pkg}.1.0.0.nupkg`;
  return `/v3/search?q=soak${n % 5000}&take=20`;
}

async function worker(): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const res = await fetch(base + nextPath(), { signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      served++;
    } catch {
      failed++;
    }
  }
}

// The upstream flaps: healthy, then failing in turns (500s, then resets), so breakers, stale answers and
// failure bookkeeping all churn.
const faults = ['status500', 'reset'] as const;
let flaps = 0;
const flapper = setInterval(() => {
  flaps++;
  up.clearFaults();
  if (flaps % 2 === 1) up.fail('/', faults[Math.floor(flaps / 2) % faults.length] ?? 'status500');
}, flapSeconds * 1000);

const samples: Array<{ t: number; rss: number; served: number }> = [];
const started = Date.now();
const sampler = setInterval(() => samples.push({ t: (Date.now() - started) / 1000, rss: rssBytes(pid), served }), 5_000);

process.stdout.write(`# nugate memory soak: ${minutes} min, hotMaxSize ${hotBytes / MB} MB, ${concurrency} clients, upstream flapping every ${flapSeconds} s\n`);
await Promise.all(Array.from({ length: concurrency }, () => worker()));
clearInterval(flapper);
clearInterval(sampler);
samples.push({ t: (Date.now() - started) / 1000, rss: rssBytes(pid), served });

process.stdout.write('\n| t (s) | RSS MB | requests |\n|---|---|---|\n');
const every = Math.max(1, Math.floor(samples.length / 20));
samples.forEach((s, i) => {
  if (i % every === 0 || i === samples.length - 1) process.stdout.write(`| ${s.t.toFixed(0)} | ${(s.rss / MB).toFixed(1)} | ${s.served} |\n`);
});
const half = samples.slice(Math.floor(samples.length / 2));
const firstOfHalf = half[0]?.rss ?? 0;
const last = samples[samples.length - 1]?.rss ?? 0;
const peak = Math.max(...samples.map((s) => s.rss));
const secondHalfGrowth = last - firstOfHalf;
const bound = hotBytes + STATED_OVERHEAD;
// Steady state is what matters: the heap grows before V8's first major collections, then must stay put.
const steadyPeak = Math.max(...half.map((s) => s.rss));
const plateau = secondHalfGrowth < 0.05 * firstOfHalf && steadyPeak <= bound;
process.stdout.write(`\nrequests ${served}, client errors ${failed}, peak RSS ${(peak / MB).toFixed(1)} MB, second-half peak ${(steadyPeak / MB).toFixed(1)} MB (bound ${(bound / MB).toFixed(0)} MB = hotMaxSize + ${STATED_OVERHEAD / MB} MB)\n`);
process.stdout.write(`second-half growth ${(secondHalfGrowth / MB).toFixed(1)} MB → ${plateau ? 'PASS: plateau' : 'MISS: still growing or over the bound'}\n`);

await proc.stop();
await up.close();
await rm(dir, { recursive: true, force: true });
