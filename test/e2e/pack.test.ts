/**
 * `npm pack` makes a tarball that runs as the `nugate` command. The tarball is packed from a copy of the tree
 * (prepack builds dist/ there, not in the working tree), unpacked like `npm install` would, and started: --help,
 * `config check`, and a server on the port NUGATE_PORT names that answers /ready and the web UI. Dependencies
 * come from this checkout's node_modules (linked), so the test needs no registry; what it proves is that the
 * tarball itself carries everything nugate needs (built code, the JSX pages, the bin entry with its shebang).
 * The Dockerfile's contract (non-root, volume, HEALTHCHECK on /ready, NUGATE_PORT) is checked as text: no
 * Docker daemon runs in CI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/nugate-process.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** What the copy leaves out: installed and generated folders, and other people's scratch space. */
const SKIP = new Set(['node_modules', '.git', 'dist', 'test-artifacts', '.tmp', '.nugate-cache']);

test('npm pack: the tarball installs a working `nugate` (help, config check, serve on NUGATE_PORT with /ready and the UI)', { timeout: 300_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'nugate-pack-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const tree = join(work, 'tree');
  await cp(REPO_ROOT, tree, { recursive: true, filter: (src) => !relative(REPO_ROOT, src).split(sep).some((part) => SKIP.has(part)) });
  await symlink(join(REPO_ROOT, 'node_modules'), join(tree, 'node_modules'));

  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: tree, timeoutMs: 240_000 });
  assert.equal(packed.code, 0, `npm pack failed:\n${packed.stderr.slice(-4000)}`);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(info, 'npm pack printed no result');
  const files = info.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'dist/cli.js', 'dist/app.js', 'dist/ui/routes.js', 'dist/ops/ready.js', 'config/proxy.config.schema.json', 'config/nugate.service', 'config/docker.json']) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
  }
  for (const f of files) assert.ok(!/^(src|test|bench|scripts)\//.test(f) && !f.endsWith('.tsx'), `the tarball carries ${f}`);

  // Unpacked the way npm installs a package: <prefix>/node_modules/nugate, the bin entry run with node.
  const installed = join(work, 'prefix', 'node_modules', 'nugate');
  await mkdir(installed, { recursive: true });
  const untar = await run('tar', ['-xzf', join(work, info.filename), '-C', installed, '--strip-components=1'], { cwd: work, timeoutMs: 60_000 });
  assert.equal(untar.code, 0, untar.stderr);
  await symlink(join(REPO_ROOT, 'node_modules'), join(installed, 'node_modules'));
  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { bin?: Record<string, string> };
  assert.equal(manifest.bin?.nugate, 'dist/cli.js');
  const bin = join(installed, 'dist', 'cli.js');
  assert.match(await readFile(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);

  const help = await run(process.execPath, [bin, '--help'], { cwd: work, timeoutMs: 30_000 });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /nugate \[serve\]/);
  assert.match(help.stdout, /NUGATE_PORT/);

  const cacheDir = join(work, 'cache');
  const config = join(work, 'proxy.config.json');
  await writeFile(config, JSON.stringify({ $schema: './node_modules/nugate/config/proxy.config.schema.json', listen: { host: '127.0.0.1', port: 1 }, upstreams: [{ name: 'local', url: `file://${join(work, 'packages')}` }], cache: { dir: cacheDir } }));
  await mkdir(join(work, 'packages'));
  const check = await run(process.execPath, [bin, 'config', 'check', '--config', config], { cwd: work, timeoutMs: 30_000 });
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /config OK/);

  const badPort = await run(process.execPath, [bin, 'config', 'check', '--config', config], { cwd: work, env: { ...process.env, NUGATE_PORT: 'http' }, timeoutMs: 30_000 });
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /NUGATE_PORT: expected 0-65535, got "http"/);

  // The config says port 1; NUGATE_PORT moves it.
  const port = await freePort();
  const server = spawn(process.execPath, [bin, 'serve', '--config', config], { cwd: work, env: { ...process.env, NUGATE_PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  let readyStatus = 0;
  for (let i = 0; i < 100 && readyStatus !== 200; i++) {
    readyStatus = await fetch(`http://127.0.0.1:${port}/ready`).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );
    if (readyStatus !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(readyStatus, 200, `no /ready on NUGATE_PORT ${port}:\n${output.slice(-3000)}`);
  const home = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(home.status, 200);
  assert.match(await home.text(), /dotnet nuget add source http:\/\/127\.0\.0\.1:\d+\/v3\/index\.json -n nugate/);
  server.kill('SIGTERM');
  assert.equal(await exited, 0, `nugate did not stop cleanly on SIGTERM:\n${output.slice(-3000)}`);
});

test('Dockerfile: non-root user, a cache volume, HEALTHCHECK on /ready, port from NUGATE_PORT', async () => {
  const text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  assert.match(runtime, /^USER node$/m);
  assert.match(runtime, /^VOLUME \["\/var\/cache\/nugate"\]$/m);
  assert.match(runtime, /^ENV [\s\S]*NUGATE_PORT=5000/m);
  const health = /^HEALTHCHECK [\s\S]*?CMD (\[.*\])$/m.exec(runtime);
  assert.ok(health?.[1], 'no HEALTHCHECK in the runtime stage');
  const command = JSON.parse(health[1]) as string[];
  assert.equal(command[0], 'node');
  assert.match(command[2] ?? '', /\/ready/);
  assert.match(command[2] ?? '', /process\.env\.NUGATE_PORT/);
  const docker = JSON.parse(await readFile(join(REPO_ROOT, 'config', 'docker.json'), 'utf8')) as { cache: { dir: string } };
  assert.equal(docker.cache.dir, '/var/cache/nugate', 'config/docker.json keeps its cache in the volume');
});
