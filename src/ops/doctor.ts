/**
 * `nugate doctor`: checks a deployment's config against the world it runs in, one pass/fail line per check:
 * each upstream (its service index, through the outbound proxy it would use; a folder: readable), the TLS files
 * (readable, the certificate matching the key, in its validity period), the public URL, the cache folder
 * (writable, free space) and the metadata store. With `restore`, a real `dotnet restore` of a tiny project
 * through a temporary nugate, in an isolated NuGet configuration. The caller (cli.ts) starts that nugate: ops/
 * does not import the app.
 */
import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, statfs, unlink, writeFile, constants } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import type { Config, UpstreamConfig } from '../config/schema.ts';
import { fetchBuffer, routeOf, upstreamDispatcher } from '../upstream/http.ts';
import { upstreamCredentialHeaders } from '../upstream/credentials.ts';
import { parseServiceIndex } from '../nuget/service-index.ts';
import { createCache } from '../cache/index.ts';
import { formatBytes } from '../config/units.ts';

export interface CheckResult {
  ok: boolean;
  name: string;
  detail: string;
}

export interface TemporaryNugate {
  url: string;
  stop(): Promise<void>;
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  /** Writes one line (the CLI: stdout). */
  out: (line: string) => void;
  /** Run a real restore through a temporary nugate started by this function (cache in `cacheDir`). */
  restore?: (cacheDir: string) => Promise<TemporaryNugate>;
  /** The package the restore asks for ("Id" or "Id@Version"); default: the first result of the merged search. */
  restorePackage?: string;
  now?: () => number;
}

/** Below this much free space the cache cannot even take one large package: a failure, not a note. */
const MIN_FREE_BYTES = 256 * 1024 * 1024;
/** A certificate this close to its end is reported (still a pass). */
const EXPIRY_NOTICE_MS = 30 * 24 * 3600_000;
/** The service index check gets at most this long, whatever the upstream's own timeout. */
const PROBE_TIMEOUT_MS = 15_000;
const RESTORE_TIMEOUT_MS = 300_000;

function failureText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

async function check(name: string, run: () => Promise<string>): Promise<CheckResult> {
  try {
    return { ok: true, name, detail: await run() };
  } catch (err) {
    return { ok: false, name, detail: failureText(err) };
  }
}

async function checkFolder(u: UpstreamConfig): Promise<string> {
  const dir = fileURLToPath(u.url);
  await access(dir, constants.R_OK);
  const files = await readdir(dir, { recursive: true });
  return `folder ${dir} readable (${files.filter((f) => f.toLowerCase().endsWith('.nupkg')).length} .nupkg files)`;
}

async function checkFeed(u: UpstreamConfig, env: NodeJS.ProcessEnv): Promise<string> {
  const route = routeOf(u.url, { env, ...(u.proxy === undefined ? {} : { proxy: u.proxy }) });
  const via = route.kind === 'proxy' ? `through proxy ${route.via ?? ''}` : 'direct';
  const dispatcher = await upstreamDispatcher(u, env);
  const started = performance.now();
  try {
    const res = await fetchBuffer(dispatcher, {
      upstream: u.name,
      url: u.url,
      headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate, br' },
      credentials: upstreamCredentialHeaders(u, env),
      credentialOrigins: [new URL(u.url).origin],
      redirectOrigins: [new URL(u.url).origin, ...(u.redirectOrigins ?? [])],
      timeout: Math.min(u.timeout, PROBE_TIMEOUT_MS),
      idleTimeout: Math.min(u.idleTimeout, PROBE_TIMEOUT_MS),
      maxBytes: 8 * 1024 * 1024,
    });
    const ms = Math.round(performance.now() - started);
    if (res.status !== 200) throw new Error(`service index ${u.url} answered ${res.status} (${via})`);
    let resources: ReturnType<typeof parseServiceIndex>;
    try {
      resources = parseServiceIndex(JSON.parse(res.body.toString('utf8')));
    } catch (err) {
      throw new Error(`service index ${u.url} is not a valid V3 service index: ${failureText(err)}`);
    }
    const has = [resources.packageBaseAddress && 'packages', resources.registrationSemVer2 && 'registration', resources.search.length > 0 && 'search'].filter(Boolean).join(', ');
    return `service index ${u.url} OK in ${ms} ms, ${via} (${has || 'no known resources'})`;
  } catch (err) {
    // UpstreamError messages already name the upstream and the kind of failure; add where it was going.
    throw new Error(`${failureText(err)} [${u.url}, ${via}]`);
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

async function checkTls(tls: NonNullable<Config['listen']['tls']>, now: number): Promise<string> {
  const [certPem, keyPem, caPem] = await Promise.all([
    readFile(tls.cert).catch((err: unknown) => {
      throw new Error(`listen.tls.cert ${tls.cert}: ${failureText(err)}`);
    }),
    readFile(tls.key).catch((err: unknown) => {
      throw new Error(`listen.tls.key ${tls.key}: ${failureText(err)}`);
    }),
    tls.ca === undefined
      ? undefined
      : readFile(tls.ca).catch((err: unknown) => {
          throw new Error(`listen.tls.ca ${tls.ca ?? ''}: ${failureText(err)}`);
        }),
  ]);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`listen.tls.cert ${tls.cert} is not a PEM certificate: ${failureText(err)}`);
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    throw new Error(`listen.tls.key ${tls.key} is not a PEM private key: ${failureText(err)}`);
  }
  if (!matches) throw new Error(`listen.tls.key ${tls.key} does not match the certificate ${tls.cert}`);
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now < from) throw new Error(`certificate ${tls.cert} is not valid before ${cert.validFrom}`);
  if (now > to) throw new Error(`certificate ${tls.cert} expired on ${cert.validTo}`);
  if (caPem !== undefined) {
    try {
      new X509Certificate(caPem);
    } catch (err) {
      throw new Error(`listen.tls.ca ${tls.ca ?? ''} is not a PEM certificate: ${failureText(err)}`);
    }
  }
  const soon = to - now < EXPIRY_NOTICE_MS ? ' (expires within 30 days!)' : '';
  return `certificate for ${cert.subjectAltName ?? cert.subject} matches its key, valid until ${cert.validTo}${soon}`;
}

function checkPublicUrl(config: Config): string {
  const tls = config.listen.tls !== undefined;
  if (config.publicUrl === undefined) return `not set: derived from each request's Host (${tls ? 'https' : 'http'})`;
  const url = new URL(config.publicUrl);
  if (url.search || url.hash) throw new Error(`publicUrl ${config.publicUrl} must not have a query or fragment`);
  if (tls && url.protocol !== 'https:') throw new Error(`publicUrl ${config.publicUrl} is http but nugate serves https (listen.tls)`);
  const note = url.protocol === 'http:' ? ' (http: .NET 9+ clients need allowInsecureConnections="true" on this source)' : '';
  return `${config.publicUrl}${note}`;
}

async function checkCacheDir(config: Config): Promise<string> {
  const dir = config.cache.dir;
  await mkdir(dir, { recursive: true });
  const probe = join(dir, `.doctor-${randomUUID()}`);
  await writeFile(probe, 'nugate doctor');
  await unlink(probe);
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_BYTES) throw new Error(`${dir} is writable but only ${formatBytes(free)} free`);
  const note = free < config.cache.maxSize ? ` (less than cache.maxSize ${formatBytes(config.cache.maxSize)})` : '';
  return `${dir} writable, ${formatBytes(free)} free${note}`;
}

async function checkStore(config: Config): Promise<string> {
  const cache = await createCache({ config });
  try {
    await cache.ping();
    return `${cache.summary().store} store reachable`;
  } finally {
    await cache.close();
  }
}

/** Which package the restore asks for: the option, else the first hit of the merged search. */
async function pickPackage(url: string, wanted: string | undefined): Promise<{ id: string; version: string }> {
  if (wanted !== undefined) {
    const [id = '', version] = wanted.split('@');
    if (version) return { id, version };
    const res = await fetch(`${url}/v3/flatcontainer/${id.toLowerCase()}/index.json`);
    if (!res.ok) throw new Error(`package ${id}: the temporary nugate answered ${res.status} for its versions`);
    const body = (await res.json()) as { versions?: unknown };
    const versions = Array.isArray(body.versions) ? body.versions.filter((v): v is string => typeof v === 'string') : [];
    const last = versions.at(-1);
    if (last === undefined) throw new Error(`package ${id} has no versions`);
    return { id, version: last };
  }
  const res = await fetch(`${url}/v3/search?take=1&prerelease=false&semVerLevel=2.0.0`);
  if (!res.ok) throw new Error(`search through the temporary nugate answered ${res.status}; name a package with --package`);
  const body = (await res.json()) as { data?: Array<{ id?: unknown; version?: unknown }> };
  const first = body.data?.[0];
  if (typeof first?.id !== 'string' || typeof first.version !== 'string') throw new Error('the merged search found no package; name one with --package');
  return { id: first.id, version: first.version };
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

/** The restore environment: everything NuGet-specific dropped, every cache and config inside `dir`. */
function isolatedEnv(env: NodeJS.ProcessEnv, dir: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.toUpperCase().startsWith('NUGET')) out[k] = v;
  return {
    ...out,
    HOME: join(dir, 'home'),
    DOTNET_CLI_HOME: join(dir, 'home'),
    NUGET_PACKAGES: join(dir, 'packages'),
    NUGET_HTTP_CACHE_PATH: join(dir, 'http-cache'),
    NUGET_PLUGINS_CACHE_PATH: join(dir, 'plugins-cache'),
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_NOLOGO: '1',
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
    DOTNET_CLI_USE_MSBUILD_SERVER: '0',
    MSBUILDDISABLENODEREUSE: '1',
    DOTNET_CLI_UI_LANGUAGE: 'en',
  };
}

async function checkRestore(start: (cacheDir: string) => Promise<TemporaryNugate>, opts: DoctorOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-doctor-'));
  let nugate: TemporaryNugate | undefined;
  try {
    nugate = await start(join(dir, 'cache'));
    const pkg = await pickPackage(nugate.url, opts.restorePackage);
    const env = isolatedEnv(opts.env, dir);
    const version = await run('dotnet', ['--version'], { cwd: dir, env, timeoutMs: 60_000 }).catch((err: unknown) => {
      throw new Error(`dotnet not found: ${failureText(err)}`);
    });
    const major = /^(\d+)\./.exec(version.output.trim())?.[1];
    if (version.code !== 0 || major === undefined) throw new Error(`dotnet --version failed: ${version.output.trim().slice(0, 500)}`);
    const project = join(dir, 'probe');
    await mkdir(project, { recursive: true });
    await writeFile(
      join(dir, 'NuGet.Config'),
      `<?xml version="1.0" encoding="utf-8"?>\n<configuration>\n  <packageSources>\n    <clear />\n    <add key="nugate" value="${nugate.url}/v3/index.json" allowInsecureConnections="true" />\n  </packageSources>\n</configuration>\n`,
    );
    for (const f of ['Directory.Build.props', 'Directory.Build.targets', 'Directory.Packages.props']) await writeFile(join(dir, f), '<Project />\n');
    await writeFile(
      join(project, 'probe.csproj'),
      `<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup><TargetFramework>net${major}.0</TargetFramework></PropertyGroup>\n  <ItemGroup><PackageReference Include="${pkg.id}" Version="[${pkg.version}]" /></ItemGroup>\n</Project>\n`,
    );
    const started = performance.now();
    const res = await run('dotnet', ['restore', join(project, 'probe.csproj'), '--configfile', join(dir, 'NuGet.Config'), '-nologo'], { cwd: dir, env, timeoutMs: RESTORE_TIMEOUT_MS });
    if (res.code !== 0) {
      const errors = res.output.split('\n').filter((l) => /error|warn/i.test(l)).slice(0, 5).join('\n    ');
      throw new Error(`dotnet restore of ${pkg.id} ${pkg.version} failed (exit ${res.code}):\n    ${errors || res.output.slice(-1000)}`);
    }
    return `dotnet restore of ${pkg.id} ${pkg.version} through a temporary nugate succeeded in ${Math.round(performance.now() - started)} ms`;
  } finally {
    await nugate?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every check, writes one line each, and says whether all passed.
 *
 * @example
 * const ok = await runDoctor(config, { env: process.env, out: (l) => process.stdout.write(`${l}\n`) });
 * process.exitCode = ok ? 0 : 1;
 */
export async function runDoctor(config: Config, opts: DoctorOptions): Promise<boolean> {
  const now = opts.now ?? Date.now;
  const pending: Array<Promise<CheckResult>> = [];
  for (const u of config.upstreams) {
    const isFolder = u.url.startsWith('file:');
    if (config.offline && !isFolder) {
      pending.push(Promise.resolve({ ok: true, name: `upstream ${u.name}`, detail: 'offline mode: not contacted' }));
      continue;
    }
    pending.push(check(`upstream ${u.name}`, () => (isFolder ? checkFolder(u) : checkFeed(u, opts.env))));
  }
  const tls = config.listen.tls;
  pending.push(tls === undefined ? Promise.resolve({ ok: true, name: 'tls', detail: 'not configured: plain http (put TLS in front, or set listen.tls)' }) : check('tls', () => checkTls(tls, now())));
  pending.push(check('public url', async () => checkPublicUrl(config)));
  pending.push(check('cache folder', () => checkCacheDir(config)));
  pending.push(check('metadata store', () => checkStore(config)));
  const results = await Promise.all(pending);
  const restore = opts.restore;
  if (restore !== undefined) {
    // After the others: a restore that fails for a reason they already named would only repeat it.
    results.push(await check('restore', () => checkRestore(restore, opts)));
  }
  for (const r of results) opts.out(`${r.ok ? 'PASS' : 'FAIL'}  ${r.name}: ${r.detail}`);
  const failed = results.filter((r) => !r.ok).length;
  opts.out(failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`);
  return failed === 0;
}
