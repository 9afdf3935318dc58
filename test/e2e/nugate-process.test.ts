/**
 * The nugate process helper against a stand-in CLI with the same contract, so the e2e harness is proven
 * independently of nugate: readiness from the log line, loud failures, and stop() that always ends the child.
 */
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { startNugate } from '../helpers/nugate-process.ts';

const ENTRY = 'test/fixtures/e2e/fake-nugate-cli.mjs';
const config = { listen: { host: '127.0.0.1', port: 0 }, upstreams: [{ name: 'x', url: 'http://127.0.0.1:9/v3/index.json' }] };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('waits for the listening line, reports the real port and a temp cache dir, stops with SIGTERM', async (t) => {
  const n = await startNugate({ config, entry: ENTRY });
  t.after(() => n.stop());
  assert.match(n.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(new URL(n.baseUrl).port, '0');
  assert.equal(n.indexUrl, `${n.baseUrl}/v3/index.json`);
  const health = await fetch(`${n.baseUrl}/health`);
  assert.equal(health.status, 200);
  const written = JSON.parse(await readFile(n.configPath, 'utf8')) as { cache: { dir: string } };
  assert.equal(((await health.json()) as { cacheDir: string }).cacheDir, written.cache.dir);
  assert.match(n.logs(), /nugate listening/);
  assert.equal(await n.stop(), 0);
  assert.equal(await n.stop(), 0, 'stop() is idempotent');
  assert.ok(!alive(n.pid));
  await assert.rejects(access(n.dir), 'the temp dir is removed');
});

test('fails with the child output when it exits before listening', async () => {
  await assert.rejects(startNugate({ config, entry: ENTRY, env: { FAKE_MODE: 'exit-early' } }), (err: Error) => {
    assert.match(err.message, /exited early \(code 3/);
    assert.match(err.message, /config rejected/);
    return true;
  });
});

test('fails when the listening line never comes, and kills the child', async () => {
  await assert.rejects(startNugate({ config, entry: ENTRY, env: { FAKE_MODE: 'silent' }, readyTimeoutMs: 1500 }), /no "nugate listening" log line within 1500 ms/);
});

test('stop() escalates to SIGKILL when SIGTERM is ignored', { timeout: 20_000 }, async (t) => {
  const n = await startNugate({ config, entry: ENTRY, env: { FAKE_MODE: 'ignore-sigterm' } });
  t.after(() => n.stop());
  const started = Date.now();
  assert.equal(await n.stop(), 128 + 9);
  assert.ok(Date.now() - started >= 4_500, 'SIGKILL comes only after the 5 s grace period');
  assert.ok(!alive(n.pid));
  assert.match(n.logs(), /ignoring SIGTERM/);
});
