/**
 * Assembles nugate: the cache, the upstreams, the merged feed at /v3/ and one view per upstream at
 * /upstreams/{name}/v3/, plus health, metrics and publish. `app.onError` is the one place that turns errors
 * into responses (style.md rule 5).
 */
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Config } from './config/schema.ts';
import { createCache } from './cache/index.ts';
import { systemClock } from './cache/clock.ts';
import { createPolicy } from './cache/policy.ts';
import { createDispatcher, upstreamDispatcher } from './upstream/http.ts';
import { observeDispatcher } from './upstream/observe.ts';
import type { Dispatcher } from 'undici';
import { createUpstreamMetrics, type UpstreamMetrics } from './ops/upstream-metrics.ts';
import { withUpstreamLog } from './ops/upstream-log.ts';
import { upstreamCredentialHeaders } from './upstream/credentials.ts';
import { createFolderSource, isFolderUrl } from './sources/folder-source.ts';
import { HttpSource } from './sources/http-source.ts';
import { createLinkSigner, loadLinkKey } from './sources/links.ts';
import type { Source } from './sources/source.ts';
import { LRUCache } from 'lru-cache';
import { Warmer } from './warm/warmer.ts';
import type { FolderPublisher } from './sources/folder/publish.ts';
import { compileMapping } from './merge/mapping.ts';
import { RenderCache } from './http/render-cache.ts';
import { createHeaderCheck, readAuth } from './http/read-auth.ts';
import { createFastHit } from './http/fast-hit.ts';
import { validRequestUrl } from './http/public-base.ts';
import type { Env } from './http/respond.ts';
import type { Services, Feed, Clock } from './services.ts';
import { serviceIndexRoutes } from './resources/service-index.ts';
import { flatContainerRoutes } from './resources/flat-container.ts';
import { registrationRoutes } from './resources/registration.ts';
import { searchRoutes } from './resources/search.ts';
import { vulnerabilityRoutes } from './resources/vulnerability.ts';
import { rawRoutes } from './resources/raw.ts';
import { explainRoutes } from './resources/explain.ts';
import { createPublishRoutes } from './publish/routes.ts';
import type { PublishTarget } from './sources/source.ts';
import { healthRoutes } from './ops/health.ts';
import { createMetrics } from './ops/metrics.ts';
import { createLogger } from './ops/logger.ts';
import { secretValues } from './ops/secrets.ts';
import { createCacheMetrics } from './ops/cache-metrics.ts';
import { createAccessLog, requestIdOf } from './ops/access-log.ts';
import { readyRoutes } from './ops/ready.ts';
import { createActivity } from './ui/activity.ts';
import { uiRoutes } from './ui/routes.tsx';
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
  /** Answers a held GET/HEAD straight from the node request (http/fast-hit.ts); false passes it to `app`. */
  fastHit(req: IncomingMessage, res: ServerResponse): boolean;
  /** Waits for background work started so far (revalidations, access-time writes, eviction): tests and shutdown. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Read auth on raw node headers (a repeated header is no credential). */
function authorizedHeaders(check: (authorization: string | undefined, apiKey: string | undefined) => boolean): (req: IncomingMessage) => boolean {
  return (req) => {
    const apiKey = req.headers['x-nuget-apikey'];
    return check(req.headers.authorization, typeof apiKey === 'string' ? apiKey : undefined);
  };
}

/** Lowercase upstream name → the publisher of that folder upstream. */
type FolderPublishers = ReadonlyMap<string, FolderPublisher>;

function mountFeed(root: Hono<Env>, s: Services, feed: Feed, publish: boolean, tmpDir: string, dispatcher: ReturnType<typeof createDispatcher>, folders: FolderPublishers, env: NodeJS.ProcessEnv): void {
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
    target: async (name: string, kind: 'package' | 'symbols'): Promise<PublishTarget> => {
      const src = s.sources.find((x) => x.name.toLowerCase() === name.toLowerCase());
      if (!src) throw new NugateError('NO_SUCH_UPSTREAM', 404, `no upstream named "${name}"`);
      // The service index is the same offline (the client caches it); the push itself is refused with the reason.
      if (s.config.offline && !src.local) throw new NugateError('OFFLINE', 503, `nugate is offline: pushes to upstream "${name}" are refused until it is back online`);
      const target = await src.publishTarget(kind);
      if (!target) throw new NugateError('NO_PUBLISH', 501, `upstream "${name}" does not accept ${kind === 'package' ? 'packages' : 'symbol packages'}`);
      return target;
    },
    // A folder upstream stores pushes itself (sources/folder/publish.ts); nothing goes over HTTP.
    local: (name: string) => folders.get(name.toLowerCase()),
    eligible: (id: string) => s.mapping.eligible(id),
    evict: (id: string) => s.invalidate(id),
    dispatcher,
    log: s.log,
    tmpDir,
    env,
  };
  const packages = createPublishRoutes(deps, 'package');
  root.route(`${at}/package`, packages);
  root.route('/api/v2/package', packages);
  root.route(`${at}/symbolpackage`, createPublishRoutes(deps, 'symbols'));
}

export async function createApp(opts: AppOptions): Promise<NugateApp> {
  const { config } = opts;
  const clock: Clock = opts.clock ?? systemClock;
  const env = opts.env ?? process.env;
  const log = opts.log ?? createLogger(config.log.level, undefined, { secrets: secretValues(config, env), format: config.log.format });
  // Fail on a missing credential variable before anything is opened.
  for (const u of config.upstreams) upstreamCredentialHeaders(u, env);
  const cacheMetrics = createCacheMetrics();
  const cache = await createCache({ config, clock, log, observer: cacheMetrics.observer });
  // Publish forwards: the environment's outbound proxy applies to them too.
  const dispatcher = createDispatcher({ env });
  // One dispatcher per upstream: its own connection limit, CA bundle and outbound proxy (upstream/http.ts).
  const upstreamDispatchers: Dispatcher[] = [];
  // Connections may open before the metrics exist (never in practice: nothing is fetched during assembly).
  let traffic: UpstreamMetrics | undefined;
  // One Source per upstream (ARCHITECTURE.md): a V3 feed over HTTP, or a folder of packages served directly.
  // Offline mode means no network: a folder stays live.
  const sources: Source[] = [];
  const publishers = new Map<string, FolderPublisher>();
  try {
    const links = createLinkSigner(await loadLinkKey(join(config.cache.dir, 'link.key')));
    const policy = createPolicy(config);
    for (const u of config.upstreams) {
      const ulog = log.child({ upstream: u.name });
      if (isFolderUrl(u.url)) {
        const folder = await createFolderSource({ name: u.name, url: u.url, log: ulog, clock });
        sources.push(folder);
        publishers.set(u.name.toLowerCase(), folder.publisher);
        continue;
      }
      const own = await upstreamDispatcher(u, env, { onConnection: (event) => traffic?.connection(u.name, event) });
      upstreamDispatchers.push(own);
      sources.push(new HttpSource(u, { dispatcher: own, docs: cache.docs, blobs: cache.blobs, policy, clock, log: ulog, offline: config.offline, env, limits: config.limits, links }));
    }
  } catch (err) {
    await Promise.all(sources.map((f) => f.close().catch(() => undefined)));
    await Promise.all([dispatcher, ...upstreamDispatchers].map((d) => d.close().catch(() => {})));
    await cache.close();
    throw err;
  }
  const render = new RenderCache(Math.floor(config.cache.hotMaxSize / 4), () => clock.now());
  // References to package Buffers the hot tier holds; bounded on its own, so it never keeps more than this alive.
  const packageHits = new RenderCache(Math.floor(config.cache.hotMaxSize / 4), () => clock.now());
  const warnedSessions = new LRUCache<string, true>({ max: 10_000 });
  const services: Services = {
    config,
    render,
    packageHits,
    sources,
    mapping: compileMapping(config.packageSourceMapping, sources.map((u) => u.name)),
    clock,
    log,
    cacheObserver: cacheMetrics.observer,
    warnStale(sessionId) {
      const mode = config.cache.staleWarning;
      if (mode === 'always') return true;
      if (mode === 'never' || sessionId === undefined) return false;
      if (warnedSessions.has(sessionId)) return false;
      warnedSessions.set(sessionId, true);
      return true;
    },
    async invalidate(id) {
      const lower = id.toLowerCase();
      await invalidateHere(lower);
      // Every other process sharing the cache does the same before this resolves (bounded): cache/change-bus.ts.
      await cache.changes.publish({ type: 'id', id: lower });
    },
  };
  /** This process's part of an invalidation; also what a change published by another process runs here. */
  async function invalidateHere(lower: string): Promise<void> {
    render.evictIds([lower]);
    packageHits.evictIds([lower]);
    await Promise.all(sources.map((src) => src.invalidate(lower)));
  }
  cache.changes.onChange(async (event) => {
    if (event.type === 'id') return invalidateHere(event.id);
    // This process may have missed changes (its Redis connection dropped): nothing rendered is trusted.
    render.clear();
    packageHits.clear();
  });
  const tmpDir = join(config.cache.dir, 'tmp', 'publish');
  await mkdir(tmpDir, { recursive: true });

  const metrics = createMetrics(sources);
  cacheMetrics.register(metrics.registry);
  traffic = createUpstreamMetrics(metrics.registry, { upstreams: sources, summary: () => cache.summary() });
  for (const d of [dispatcher, ...upstreamDispatchers]) observeDispatcher(d, withUpstreamLog(traffic.observer, log));
  if (config.warm.enabled && !config.offline) {
    services.warm = new Warmer({ services, log, concurrency: config.warm.concurrency, registry: metrics.registry });
  }
  const app = new Hono<Env>();

  // Order matters: a bad Host is refused before anything parses the URL, and read auth runs before anything
  // records a request (a refused one is counted once, under one series), so clients cannot mint metric series.
  // The web UI's recent activity: a bounded ring fed by the access log.
  const activity = createActivity(200, () => clock.now());
  const access = createAccessLog(
    metrics,
    log,
    (fields) => {
      activity.record(fields);
      // A NuGet client's new operation: its restore will end by asking for the vulnerability data (warm/warmer.ts).
      if (fields.session !== undefined) services.warm?.sessionStarted(fields.session);
    },
    traffic,
  );
  app.use('*', validRequestUrl());
  app.use('*', readAuth(config, { onRejected: access.rejected }));
  app.use('*', access.middleware);
  app.route('/health', healthRoutes(services));
  app.get('/metrics', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  app.route('/ready', readyRoutes({ config, pingStore: () => cache.ping() }));
  app.route('/', uiRoutes({ services, activity, cacheSummary: () => cache.summary() }));

  mountFeed(app, services, { name: 'merged', path: 'v3/', sources }, config.publish.enabled, tmpDir, dispatcher, publishers, env);
  for (const u of sources) mountFeed(app, services, { name: u.name, path: `upstreams/${u.name}/v3/`, sources: [u] }, false, tmpDir, dispatcher, publishers, env);

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
    fastHit: createFastHit({
      config,
      render,
      packageHits,
      now: () => clock.now(),
      ...(config.auth.read ? { authorized: authorizedHeaders(createHeaderCheck(config)) } : {}),
      requestId: (req) => requestIdOf(req.headers['x-request-id']),
      record: (req, status, cache, started, id, kind) => {
        cacheMetrics.observer.result(kind, 'rendered', 'hit');
        access.answered(req, status, cache, started, id);
      },
    }),
    async settle() {
      await services.warm?.settled();
      await cache.settle();
    },
    async close() {
      await cache.docs.settle().catch(() => {});
      await Promise.all(sources.map((f) => f.close().catch(() => {})));
      await Promise.all([dispatcher, ...upstreamDispatchers].map((d) => d.close().catch(() => {})));
      await cache.close();
    },
  };
}
