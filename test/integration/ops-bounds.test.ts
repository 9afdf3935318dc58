/**
 * Operational bounds (issue 8): hostile clients cannot grow /metrics, read auth runs before anything records a
 * request, a malformed Host is a 400 (never a 500), no credential reaches a log line, and a cluster whose
 * workers cannot start exits non-zero.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startNugateInProcess, type Running } from '../helpers/inproc.ts';
import { REPO_ROOT } from '../helpers/nugate-process.ts';

const USER = 'ops-user';
const PASSWORD = 'ops-password-7f3a0c';
const KEY = 'ops-publish-key-91c2d8';
const UPSTREAM_TOKEN = 'upstream-bearer-token-5d1e44';
const TENANT_SECRET = 'upstream-tenant-secret-3b77aa';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = { authorization: basic(USER, PASSWORD) };

let up: FakeUpstream;
let ng: Running;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });

before(async () => {
  up = await startFakeUpstream([{ id: 'Ops.Pkg', version: '1.0.0' }]);
  ng = await startNugateInProcess(
    {
      upstreams: [{ name: 'fake', url: up.indexUrl, auth: { type: 'bearer', tokenEnv: 'OPS_UPSTREAM_TOKEN' }, headers: { 'X-Tenant': { env: 'OPS_TENANT' } } }],
      auth: { read: true, users: [{ username: USER, passwordSha256: sha(PASSWORD) }] },
      publish: { enabled: true, keys: [{ name: 'ci', sha256: sha(KEY) }] },
    },
    { env: { OPS_UPSTREAM_TOKEN: UPSTREAM_TOKEN, OPS_TENANT: TENANT_SECRET } },
  );
});

after(async () => {
  agent.destroy();
  await ng?.stop();
  await up?.close();
});

interface Answer {
  status: number;
  body: string;
}

/** node:http, because fetch() refuses some methods and drops a custom Host header. */
function send(method: string, path: string, headers: Record<string, string> = {}, via: Agent | false = agent): Promise<Answer> {
  const target = new URL(ng.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, method, path, headers, agent: via }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricsText(): Promise<string> {
  const r = await send('GET', '/metrics', GOOD);
  assert.equal(r.status, 200, r.body);
  return r.body;
}

/** nugate's own series (the process metrics of prom-client may gain a GC kind now and then). */
function nugateSeries(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('nugate_')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** A seeded generator, so a failure replays exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
const AUTHS: Array<Record<string, string>> = [{}, GOOD, { authorization: basic(USER, 'wrong-password') }, { 'x-nugET-apikey': KEY }];

/** Request shapes; `w()` is a fresh word each call (never repeated, so no answer comes from a negative cache). */
const SHAPES: Array<(w: () => string) => string> = [
  (w) => `/v3/${w()}`,
  (w) => `/v3/${w()}/${w()}?${w()}=${w()}`,
  (w) => `/v3/${w()}.json`,
  (w) => `/v3/flatcontainer/${w()}/index.json`,
  (w) => `/v3/registration/${w()}/index.json?${w()}`,
  (w) => `/v3/search?q=${w()}&${w()}=${w()}`,
  (w) => `/upstreams/${w()}/v3/${w()}`,
  (w) => `/upstreams/fake/v3/${w()}/${w()}`,
  (w) => `/${w()}?${w()}=${w()}`,
  (w) => `/api/v2/${w()}`,
  (w) => `/v3/index.json?${w()}=${w()}`,
  (w) => `/health?${w()}`,
];

function words(seed: number): () => string {
  const r = rng(seed);
  let n = 0;
  // The leading letter keeps a word from ever being a valid version, so a shape's status does not depend on luck.
  return () => `x${(n++).toString(36)}${Math.floor(r() * 36 ** 6).toString(36)}`;
}

async function inBatches(jobs: Array<() => Promise<unknown>>, width = 8): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        if (job) await job();
      }
    }),
  );
}

test('3000 random paths, queries, methods and credentials do not grow /metrics: every label comes from a fixed set', async (t) => {
  const w = words(8);
  // Every shape × method × credential once, so each series a shape can reach exists before the measurement.
  const warm: Array<() => Promise<unknown>> = [];
  for (const shape of SHAPES) for (const method of METHODS) for (const auth of AUTHS) warm.push(() => send(method, shape(w), auth));
  await inBatches(warm);
  // A /metrics read is recorded once answered: the first one shows in the second.
  await metricsText();
  const beforeText = await metricsText();
  const beforeSeries = nugateSeries(beforeText);

  const r = rng(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const flood = Array.from({ length: 3000 }, () => () => send(pick(METHODS), pick(SHAPES)(w), pick(AUTHS)));
  await inBatches(flood);
  const afterText = await metricsText();
  const afterSeries = nugateSeries(afterText);

  t.diagnostic(`/metrics: ${beforeText.length} → ${afterText.length} bytes; nugate series: ${beforeSeries.size} → ${afterSeries.size}`);
  const added = [...afterSeries.keys()].filter((k) => !beforeSeries.has(k));
  assert.deepEqual(added, [], 'no new series');
  assert.equal(afterSeries.size, beforeSeries.size);
  assert.ok(afterText.length < beforeText.length * 1.2, `/metrics grew from ${beforeText.length} to ${afterText.length} bytes`);
  // The flood was counted, under the fixed series.
  const total = (m: Map<string, number>): number => [...m].filter(([k]) => k.startsWith('nugate_http_requests_total{')).reduce((s, [, v]) => s + v, 0);
  assert.ok(total(afterSeries) - total(beforeSeries) >= 3000, 'every request is counted');
  for (const key of afterSeries.keys()) {
    const resource = /resource="([^"]*)"/.exec(key)?.[1];
    if (resource !== undefined) assert.match(resource, /^(service-index|flatcontainer|registration|search|autocomplete|vulnerabilities|package|explain|raw|health|metrics|unauthorized|other)$/, key);
  }
});

test('read auth runs before anything records a request: refused requests share one series', async () => {
  const w = words(401);
  const beforeSeries = nugateSeries(await metricsText());
  const paths = ['/v3/index.json', '/v3/flatcontainer/ops.pkg/index.json', '/v3/registration/ops.pkg/index.json', '/v3/search?q=ops', '/metrics', '/upstreams/fake/v3/index.json', ...SHAPES.map((s) => s(w))];
  for (const p of paths) {
    const r = await send('GET', p, {});
    // /health is public; everything else is refused.
    assert.equal(r.status, p.startsWith('/health') ? 200 : 401, p);
  }
  const refused = paths.filter((p) => !p.startsWith('/health')).length;
  const afterSeries = nugateSeries(await metricsText());
  const changed = [...afterSeries].filter(([k, v]) => beforeSeries.get(k) !== v).map(([k]) => k);
  const unauthorized = 'nugate_http_requests_total{resource="unauthorized",status="401",cache="-"}';
  assert.equal((afterSeries.get(unauthorized) ?? 0) - (beforeSeries.get(unauthorized) ?? 0), refused);
  // Besides the refusals, only the two /metrics reads by this test and the public /health request moved.
  for (const k of changed) assert.match(k, /resource="(unauthorized|metrics|health)"/, `a refused request was recorded as ${k}`);
});

test('a malformed Host header is a 400 with a short text, never a 500', async () => {
  const target = new URL(ng.url);
  // Each passes @hono/node-server's own check but is no URL host: bad punycode, an empty IPv6, an out-of-range port or IPv4.
  const hosts = ['xn--a', 'xn--', '[:]', '1.2.3.4:65536', '999.1.1.1', 'a.xn--zz', '0x1.0x2.0x3.0x4.5', 'evil.example/x?y'];
  const paths = ['/v3/index.json', '/v3/search?q=a', '/v3/registration/ops.pkg/index.json', '/v3/flatcontainer/ops.pkg/index.json', '/v3/raw/fake/x/y.json', '/health', '/metrics'];
  for (const host of hosts) {
    for (const path of paths) {
      // Origin-form (the URL is built from Host) and absolute-form (Host is only used for the public base).
      for (const p of [path, `http://${target.host}${path}`]) {
        const r = await send('GET', p, { ...GOOD, host }, false);
        assert.equal(r.status, 400, `Host ${host}, ${p} → ${r.status} ${r.body.slice(0, 80)}`);
        assert.ok(r.body.length < 100, `short text: ${r.body}`);
      }
    }
  }
  // A well-formed Host still works.
  assert.equal((await send('GET', '/v3/index.json', { ...GOOD, host: 'nuget.example.test:8080' }, false)).status, 200);
});

test('no credential value reaches a log line; a request line carries only its fixed fields (no header)', async () => {
  const from = ng.logs.length;
  const session = '6f1c2a5e-0b7d-4d2e-9a3b-1c2d3e4f5a6b';
  const headersets: Array<Record<string, string>> = [
    { ...GOOD, 'x-nuget-session-id': session },
    { authorization: basic(USER, 'not-the-password-but-secret-looking-9z'), 'x-nuget-session-id': session },
    { 'x-nuget-apikey': KEY, 'x-nuget-session-id': `not a session id ${'s'.repeat(80)}` },
    { authorization: `Bearer ${KEY}` },
  ];
  up.fail('/flat/ops.fail/', 'status500');
  up.fail('/flat/ops.reset/', 'reset');
  try {
    for (const h of headersets) {
      for (const p of ['/v3/index.json', '/v3/flatcontainer/ops.pkg/index.json', '/v3/flatcontainer/ops.fail/index.json', '/v3/flatcontainer/ops.reset/index.json', '/v3/search?q=ops', '/nope']) await send('GET', p, h);
      await send('PUT', '/v3/package', h);
      await send('DELETE', '/v3/package/ops.pkg/1.0.0', h);
    }
  } finally {
    up.clearFaults();
  }
  // The upstream did get nugate's credentials, so they were live values during the requests above.
  assert.ok(up.requests.some((r) => r.headers.authorization === `Bearer ${UPSTREAM_TOKEN}` && r.headers['x-tenant'] === TENANT_SECRET));
  const lines = ng.logs.slice(from).join('').split('\n').filter((l) => l.trim() !== '');
  const secrets = [PASSWORD, KEY, UPSTREAM_TOKEN, TENANT_SECRET, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), 'not-the-password-but-secret-looking-9z'];
  for (const line of lines) for (const s of secrets) assert.ok(!line.includes(s), `a secret in: ${line}`);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const requestLines = records.filter((r) => r.msg === 'request' || r.msg === 'request refused by read auth');
  assert.ok(requestLines.length >= headersets.length * 8, `request lines: ${requestLines.length}`);
  for (const r of requestLines) {
    // Issue 12's access line adds the request id, user agent, resource label, bytes sent and the upstreams contacted.
    const extra = Object.keys(r).filter((k) => !['level', 'time', 'app', 'msg', 'method', 'path', 'status', 'cache', 'ms', 'session', 'id', 'ua', 'resource', 'bytes', 'upstream'].includes(k));
    assert.deepEqual(extra, [], JSON.stringify(r));
    for (const u of Array.isArray(r.upstream) ? (r.upstream as object[]) : []) assert.deepEqual(Object.keys(u).filter((k) => !['name', 'status', 'failure', 'ms'].includes(k)), [], JSON.stringify(r));
    for (const k of ['method', 'path', 'status', 'cache', 'ms']) assert.ok(k in r, `${k} in ${JSON.stringify(r)}`);
    if ('session' in r) assert.equal(r.session, session, 'only a well-formed session id is logged');
  }
  assert.ok(requestLines.some((r) => r.status === 401), 'refused requests are logged too');
  assert.ok(records.some((r) => typeof r.status === 'number' && r.status >= 500 && r.level === 40), 'a 5xx is logged at warn');
});

test('a cluster whose workers all fail at start exits non-zero, with a log line saying why', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-ops-cluster-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  const missing = 'NUGATE_OPS_TEST_NEVER_SET_TOKEN';
  // Each worker fails in createApp: the credential variable is not set (the primary never reads it).
  await writeFile(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: [{ name: 'u', url: up.indexUrl, auth: { type: 'bearer', tokenEnv: missing } }],
      cache: { dir: join(dir, 'cache') },
      log: { level: 'info' },
    }),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' };
  delete env[missing];
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', file, '--port', '0', '--workers', '2'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  // Generous: two workers load the app in parallel on a loaded 2-core machine.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`primary exited ${String(code)} after ${seconds.toFixed(1)} s`);
  assert.notEqual(code, null, `killed after 60 s:\n${output}`);
  assert.notEqual(code, 0, output);
  assert.match(output, /giving up on workers: every worker exited before it could serve/, output);
  assert.ok(output.includes(missing), 'the workers say which variable is missing');
  // No forked worker outlives the primary.
  const pids = [...output.matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1])).filter((p) => p !== child.pid);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), `worker ${pid} is gone`);
});
