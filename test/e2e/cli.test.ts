/**
 * The CLI contract other tools rely on (design.md §7): start with --config/--port, /health answers 200 once
 * serving, SIGTERM exits cleanly, and a bad config fails at start naming every bad key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNugate, REPO_ROOT } from '../helpers/nugate-process.ts';
import { startFakeUpstream } from '../helpers/fake-upstream.ts';
import { eventually } from '../helpers/ha.ts';

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('serves /health once listening and exits 0 on SIGTERM', async (t) => {
  const up = await startFakeUpstream([{ id: 'A.B', version: '1.0.0' }]);
  t.after(() => up.close());
  const ng = await startNugate({ config: { upstreams: [{ name: 'u', url: up.indexUrl }] } });
  t.after(() => ng.stop('SIGKILL'));
  const health = await fetch(`${ng.baseUrl}/health`);
  assert.equal(health.status, 200);
  const body = (await health.json()) as { status: string; upstreams: Array<{ name: string; state: string }> };
  assert.equal(body.status, 'ok');
  assert.deepEqual(body.upstreams.map((u) => [u.name, u.state]), [['u', 'closed']]);
  // The upstream was discovered at start (warm/warmer.ts started()): the first client request costs one exchange.
  assert.ok(await eventually(async () => up.count('/v3/index.json') === 1, 10_000), 'the service index is fetched at start');
  const before = up.requests.length;
  const versions = await fetch(`${ng.baseUrl}/v3/flatcontainer/a.b/index.json`);
  assert.equal(versions.status, 200);
  await versions.arrayBuffer();
  assert.deepEqual(up.requests.slice(before).map((r) => r.path), ['/flat/a.b/index.json']);
  assert.equal(await ng.stop('SIGTERM'), 0, ng.logs());
});

test('a bad config fails at start with one message naming every bad key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ listen: { port: 'eighty' }, upstreams: [{ name: 'x', url: 'ftp://nope', timeout: 'soon' }], cache: { ttl: { metadata: '5 parsecs' } }, bogus: true }));
  const r = await runCli(['--config', file]);
  assert.equal(r.code, 2);
  for (const key of ['listen.port', 'upstreams[0].url', 'upstreams[0].timeout', 'cache.ttl.metadata', '"bogus"']) assert.ok(r.stderr.includes(key), `${key} missing from: ${r.stderr}`);
  const missing = await runCli(['--config', join(dir, 'absent.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read file/);
  const badPort = await runCli(['--config', file.replace('bad', 'absent'), '--port', 'abc']);
  assert.equal(badPort.code, 2);
});

test('cache stats and prune give operators a view and a lever', async (t) => {
  const up = await startFakeUpstream([{ id: 'A.B', version: '1.0.0', padding: 50_000 }, { id: 'C.D', version: '1.0.0', padding: 50_000 }]);
  t.after(() => up.close());
  const dir = await mkdtemp(join(tmpdir(), 'nugate-cli-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const config = { upstreams: [{ name: 'u', url: up.indexUrl }], cache: { dir: join(dir, 'cache') } };
  const ng = await startNugate({ config });
  for (const id of ['a.b', 'c.d']) {
    const r = await fetch(`${ng.baseUrl}/v3/flatcontainer/${id}/1.0.0/${id}.1.0.0.nupkg`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  assert.equal(await ng.stop('SIGTERM'), 0);
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  const stats = await runCli(['cache', 'stats', '--config', file]);
  assert.equal(stats.code, 0, stats.stderr);
  const parsed = JSON.parse(stats.stdout) as Record<string, unknown>;
  assert.match(JSON.stringify(parsed), /"count":2/, stats.stdout);
  const prune = await runCli(['cache', 'prune', '--config', file, '--max-size', '0']);
  assert.equal(prune.code, 0, prune.stderr);
  const after = await runCli(['cache', 'stats', '--config', file]);
  assert.doesNotMatch(after.stdout, /"count":2/, after.stdout);
  const bad = await runCli(['cache', 'prune', '--config', file, '--max-size', 'lots']);
  assert.equal(bad.code, 2);
});

test('config import turns a NuGet.Config into upstreams and a mapping, with secrets as env references', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-cli-import-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'NuGet.Config');
  await writeFile(
    file,
    `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
    <add key="contoso" value="https://pkgs.example.com/contoso/nuget/v3/index.json" />
  </packageSources>
  <packageSourceCredentials>
    <contoso>
      <add key="Username" value="build" />
      <add key="ClearTextPassword" value="hunter2-secret" />
    </contoso>
  </packageSourceCredentials>
  <packageSourceMapping>
    <packageSource key="contoso"><package pattern="Contoso.*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>`,
  );
  const r = await runCli(['config', 'import', file]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { upstreams: Array<{ name: string; auth?: { usernameEnv: string } }>; packageSourceMapping: Record<string, string[]> };
  assert.deepEqual(out.upstreams.map((u) => u.name), ['nuget.org', 'contoso']);
  assert.ok(out.upstreams[1]?.auth?.usernameEnv);
  assert.deepEqual(out.packageSourceMapping.contoso, ['Contoso.*']);
  assert.ok(!r.stdout.includes('hunter2') && !r.stderr.includes('hunter2'), 'the secret is never copied');
});

test('--workers 2 serves from two processes sharing the port and the cache, and SIGTERM stops them all', async (t) => {
  const up = await startFakeUpstream([{ id: 'W.Pkg', version: '1.0.0', padding: 100_000 }]);
  t.after(() => up.close());
  const ng = await startNugate({ config: { upstreams: [{ name: 'u', url: up.indexUrl }] }, args: ['--workers', '2'] });
  t.after(() => ng.stop('SIGKILL'));
  const pids = new Set<number>();
  const deadline = Date.now() + 15_000;
  const { get } = await import('node:http');
  // A new connection each time (fetch would keep one alive, and one connection stays with one worker).
  const healthPid = (): Promise<number> =>
    new Promise((resolve, reject) => {
      get(`${ng.baseUrl}/health`, { agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve((JSON.parse(body) as { pid: number }).pid));
      }).on('error', reject);
    });
  while (pids.size < 2 && Date.now() < deadline) pids.add(await healthPid());
  assert.equal(pids.size, 2, 'both workers answer');
  const expected = up.nupkg('W.Pkg', '1.0.0');
  const bodies = await Promise.all(Array.from({ length: 10 }, async () => Buffer.from(await (await fetch(`${ng.baseUrl}/v3/flatcontainer/w.pkg/1.0.0/w.pkg.1.0.0.nupkg`)).arrayBuffer())));
  for (const b of bodies) assert.ok(b.equals(expected));
  assert.equal(await ng.stop('SIGTERM'), 0, ng.logs());
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), 'worker process is gone');
  }
});
