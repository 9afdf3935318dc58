/**
 * Assembles nugate: the cache, the upstreams, the merged feed at /v3/ and one view per upstream at
 * /upstreams/{name}/v3/, plus health, metrics and publish. `app.onError` is the one place that turns errors
 * into responses (style.md rule 5).
 */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Config } from './config/schema.ts';
import { createCache } from './cache/index.ts';
import { systemClock } from './cache/clock.ts';
import { createPolicy } from './cache/policy.ts';
import { Upstream } from './upstream/upstream.ts';
import { createDispatcher } from './upstream/http.ts';
import { upstreamCredentialHeaders } from './upstream/credentials.ts';
import { createFolderSource, isFolderUrl, type FolderSource } from './upstream/folder-transport.ts';
import type { FolderPublisher } from './sources/folder/publish.ts';
import { compileMapping } from './merge/mapping.ts';
import { RenderCache } from './http/render-cache.ts';
import { readAuth } from './http/read-auth.ts';
import { X_CACHE_STATE, type Env, type TaggedResponse } from './http/respond.ts';
import type { Services, Feed, Clock } from './services.ts';
import { serviceIndexRoutes } from './resources/service-index.ts';
import { flatContainerRoutes } from './resources/flat-container.ts';
import { registrationRoutes } from './resources/registration.ts';
import { searchRoutes } from './resources/search.ts';
import { vulnerabilityRoutes } from './resources/vulnerability.ts';
import { rawRoutes } from './resources/raw.ts';
import { explainRoutes } from './resources/explain.ts';
import { createPublishRoutes } from './publish/routes.ts';
import { healthRoutes } from './ops/health.ts';
import { createMetrics } from './ops/metrics.ts';
import { createLogger } from './ops/logger.ts';
import { isNugateError, NugateError } from './errors.ts';

export interface AppOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface NugateApp {
  app: Hono<Env>;
  services: Services;
  close(): Promise<void>;
}

/** Which resource a path belongs to, for metrics labels (bounded cardinality). */
function resourceOf(path: string): string {
  const m = /\/v3\/([a-z-]+)/.exec(path);
  if (m?.[1]) return m[1].replace(/\.json$/, '');
  if (path.startsWith('/api/v2/package')) return 'package';
  return path === '/health' || path === '/metrics' ? path.slice(1) : 'other';
}

/** Lowercase upstream name → the publisher of that folder upstream. */
type FolderPublishers = ReadonlyMap<string, FolderPublisher>;

function mountFeed(root: Hono<Env>, s: Services, feed: Feed, publish: boolean, tmpDir: string, dispatcher: ReturnType<typeof createDispatcher>, folders: FolderPublishers): void {
  const at = `/${feed.path.replace(/\/$/, '')}`;
  root.route(`${at}/index.json`, serviceIndexRoutes(s, feed));
  root.route(`${at}/flatcontainer`, flatContainerRoutes(s, feed));
  root.route(`${at}/registration`, registrationRoutes(s, feed, 'registration'));
  root.route(`${at}/registration-semver1`, registrationRoutes(s, feed, 'registration-semver1'));
  root.route(`${at}/search`, searchRoutes(s, feed, 'search'));
  root.route(`${at}/autocomplete`, searchRoutes(s, feed, 'autocomplete'));
  root.route(`${at}/vulnerabilities`, vulnerabilityRoutes(s, feed));
  root.route(`${at}/raw`, rawRoutes(s, feed));
  root.route(`${at}/explain`, explainRoutes(s, feed));
  if (!publish) return;
  const deps = {
    config: s.config,
    publishUrl: async (name: string, kind: 'package' | 'symbols'): Promise<string> => {
      const u = s.upstreams.find((x) => x.name.toLowerCase() === name.toLowerCase());
      if (!u) throw new NugateError('NO_SUCH_UPSTREAM', 404, `no upstream named "${name}"`);
      const { resources } = await u.discover();
      const url = kind === 'package' ? resources.packagePublish : resources.symbolPackagePublish;
      if (!url) throw new NugateError('NO_PUBLISH', 501, `upstream "${name}" does not accept ${kind === 'package' ? 'packages' : 'symbol packages'}`);
      return url;
    },
    // A folder upstream stores pushes itself (upstream/folder/publish.ts); nothing goes over HTTP.
    local: (name: string) => folders.get(name.toLowerCase()),
    eligible: (id: string) => s.mapping.eligible(id),
    evict: (id: string) => s.evictId(id),
    dispatcher,
    log: s.log,
    tmpDir,
  };
  const packages = createPublishRoutes(deps, 'package');
  root.route(`${at}/package`, packages);
  root.route('/api/v2/package', packages);
  root.route(`${at}/symbolpackage`, createPublishRoutes(deps, 'symbols'));
}

export async function createApp(opts: AppOptions): Promise<NugateApp> {
  const { config } = opts;
  const clock: Clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config.log.level);
  const env = opts.env ?? process.env;
  // Fail on a missing credential variable before anything is opened.
  for (const u of config.upstreams) upstreamCredentialHeaders(u, env);
  const cache = await createCache({ config, clock, log });
  const dispatcher = createDispatcher();
  // A file: upstream is a folder of packages, answered in process (folder-transport.ts) instead of over HTTP.
  // Offline mode means no network: a folder stays live.
  const folders: FolderSource[] = [];
  const publishers = new Map<string, FolderPublisher>();
  const upstreams: Upstream[] = [];
  try {
    for (const u of config.upstreams) {
      const ulog = log.child({ upstream: u.name });
      let transport: FolderSource['transport'] | undefined;
      const isFolder = isFolderUrl(u.url);
      if (isFolder) {
        const source = await createFolderSource({ name: u.name, serviceIndexUrl: u.url, log: ulog });
        folders.push(source);
        publishers.set(u.name.toLowerCase(), source.publisher);
        transport = source.transport;
      }
      upstreams.push(new Upstream(u, { dispatcher, docs: cache.docs, clock, log: ulog, offline: config.offline && !isFolder, env, ...(transport ? { transport } : {}) }));
    }
  } catch (err) {
    await Promise.all(folders.map((f) => f.close()));
    await dispatcher.close().catch(() => {});
    await cache.close();
    throw err;
  }
  const render = new RenderCache(Math.floor(config.cache.hotMaxSize / 4), () => clock.now());
  const services: Services = {
    config,
    docs: cache.docs,
    blobs: cache.blobs,
    render,
    upstreams,
    mapping: compileMapping(config.packageSourceMapping, upstreams.map((u) => u.name)),
    policy: createPolicy(config),
    clock,
    log,
    async evictId(id) {
      const lower = id.toLowerCase();
      render.evictIds([lower]);
      // The id's versions and registration from every upstream, and every search answer (any may list the id).
      const perId = ['flat', 'reg'].flatMap((kind) => upstreams.map((u) => `${kind}:${u.name}:${lower}`));
      await cache.docs.evict([...perId, 'search:', 'autocomplete:']);
    },
  };
  const tmpDir = join(config.cache.dir, 'tmp', 'publish');
  await mkdir(tmpDir, { recursive: true });

  const metrics = createMetrics(upstreams);
  const app = new Hono<Env>();

  app.use('*', async function accessLog(c, next) {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    // Responses built by respond.ts carry their X-Cache state; reading res.headers would cost their fast path.
    const res: TaggedResponse = c.res;
    const cacheState = res[X_CACHE_STATE] ?? res.headers.get('x-cache') ?? '-';
    metrics.observe(resourceOf(c.req.path), c.res.status, cacheState, seconds);
    if (log.isLevelEnabled('debug') || c.res.status >= 500) {
      // Only these fields: never headers, so no credential can reach a log line from here.
      log[c.res.status >= 500 ? 'warn' : 'debug']({ method: c.req.method, path: c.req.path, status: c.res.status, cache: cacheState, ms: Math.round(seconds * 1000), session: c.req.header('x-nuget-session-id') }, 'request');
    }
  });
  app.route('/health', healthRoutes(services));
  app.use('*', readAuth(config));
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.get('/', (c) => c.redirect('/v3/index.json', 302));

  mountFeed(app, services, { name: 'merged', path: 'v3/', upstreams }, config.publish.enabled, tmpDir, dispatcher, publishers);
  for (const u of upstreams) mountFeed(app, services, { name: u.name, path: `upstreams/${u.name}/v3/`, upstreams: [u] }, false, tmpDir, dispatcher, publishers);

  app.notFound((c) => c.text('Not found', 404));
  app.onError((err, c) => {
    if (isNugateError(err)) {
      if (err.status >= 500) log.warn({ code: err.code, path: c.req.path, err: err.message }, 'request failed');
      return c.text(err.message, err.status as 400, err.headers);
    }
    log.error({ err, path: c.req.path }, 'unexpected error');
    return c.text('Internal error', 500);
  });

  return {
    app,
    services,
    async close() {
      await cache.docs.settle().catch(() => {});
      await Promise.all(folders.map((f) => f.close().catch(() => {})));
      await dispatcher.close().catch(() => {});
      await cache.close();
    },
  };
}
