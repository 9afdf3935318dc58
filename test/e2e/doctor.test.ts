/**
 * `nugate doctor` (issue 12) run as the CLI: on a good config (loopback upstream, TLS files from a test CA) every
 * check passes and `--restore` really restores through a temporary nugate with the real client; on broken
 * configs it exits non-zero and names each cause (an unreachable upstream, a missing TLS file, a key that does
 * not match its certificate, an http public URL in front of https).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startFakeUpstream } from '../helpers/fake-upstream.ts';
import { createTestCa } from '../helpers/test-ca.ts';
import { requireDotnet } from '../helpers/dotnet.ts';

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname;

function doctor(configFile: string, args: string[] = []): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, 'doctor', '--config', configFile, ...args], { timeout: 280_000, env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

function line(out: string, name: string): string {
  return out.split('\n').find((l) => l.includes(`  ${name}:`)) ?? `(no line for ${name})\n${out}`;
}

test('doctor passes on a good config, and --restore restores through a temporary nugate', { timeout: 300_000 }, async (t) => {
  requireDotnet();
  const work = await mkdtemp(join(tmpdir(), 'nugate-doctor-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const ca = await createTestCa();
  t.after(() => ca.cleanup());
  const upstream = await startFakeUpstream([{ id: 'Contoso.Doctor', version: '2.0.0' }]);
  t.after(() => upstream.close());
  const file = join(work, 'proxy.config.json');
  // Relative paths: anchored at the config file's folder, like cache.dir.
  await writeFile(join(work, 'cert.pem'), ca.certPem);
  await writeFile(join(work, 'key.pem'), ca.keyPem);
  await writeFile(file, JSON.stringify({ listen: { tls: { cert: 'cert.pem', key: 'key.pem' } }, publicUrl: 'https://localhost:5000', upstreams: [{ name: 'feed', url: upstream.indexUrl }], cache: { dir: 'cache' } }));

  const r = await doctor(file, ['--restore', '--package', 'Contoso.Doctor@2.0.0']);
  assert.equal(r.code, 0, r.out);
  for (const name of ['upstream feed', 'tls', 'public url', 'cache folder', 'metadata store', 'restore']) assert.match(line(r.out, name), /^PASS/, r.out);
  assert.match(line(r.out, 'upstream feed'), /service index .* OK .* direct/);
  assert.match(line(r.out, 'tls'), /matches its key/);
  assert.match(line(r.out, 'restore'), /Contoso\.Doctor 2\.0\.0/);
  assert.match(r.out, /all 6 checks passed/);
  assert.ok(upstream.count('contoso.doctor') >= 1, 'the restore reached the upstream');
});

test('doctor fails, naming the cause: unreachable upstream, missing TLS file', { timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-doctor-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const upstream = await startFakeUpstream([]);
  const dead = upstream.indexUrl;
  await upstream.close();
  const file = join(work, 'proxy.config.json');
  await writeFile(file, JSON.stringify({ listen: { tls: { cert: 'missing-cert.pem', key: 'missing-key.pem' } }, upstreams: [{ name: 'gone', url: dead, timeout: '5s' }], cache: { dir: 'cache' } }));
  const r = await doctor(file);
  assert.equal(r.code, 1, r.out);
  assert.match(line(r.out, 'upstream gone'), /^FAIL .*connection failed \(ECONNREFUSED\)/);
  assert.match(line(r.out, 'tls'), /^FAIL .*missing-cert\.pem.*(ENOENT|no such file)/);
  assert.match(line(r.out, 'cache folder'), /^PASS/);
  assert.match(r.out, /2 of 5 checks failed/);
});

test('doctor fails on a key that does not match its certificate, and on an http public URL in front of https', { timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-doctor-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const a = await createTestCa('CA a');
  const b = await createTestCa('CA b');
  t.after(() => Promise.all([a.cleanup(), b.cleanup()]));
  const upstream = await startFakeUpstream([]);
  t.after(() => upstream.close());
  const file = join(work, 'proxy.config.json');
  await writeFile(file, JSON.stringify({ listen: { tls: { cert: a.serverCert, key: b.serverKey } }, publicUrl: 'http://nuget.example.com', upstreams: [{ name: 'feed', url: upstream.indexUrl }], cache: { dir: 'cache' } }));
  const r = await doctor(file);
  assert.equal(r.code, 1, r.out);
  assert.match(line(r.out, 'tls'), /^FAIL .*does not match the certificate/);
  assert.match(line(r.out, 'public url'), /^FAIL .*http but nugate serves https/);
  assert.match(line(r.out, 'upstream feed'), /^PASS/);
});
