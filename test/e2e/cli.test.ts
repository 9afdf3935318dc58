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
  const versions = await fetch(`${ng.baseUrl}/v3/flatcontainer/a.b/index.json`);
  assert.equal(versions.status, 200);
  await versions.arrayBuffer();
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
