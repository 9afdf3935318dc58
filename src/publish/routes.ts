/**
 * Publish routes (design.md §6, protocol.md §2.4 and §5 items 46–56): push (PUT), unlist (DELETE) and relist
 * (POST), forwarded to one upstream's PackagePublish or SymbolPackagePublish resource, or, when the target is a
 * folder upstream, stored in that folder by its publisher (local.ts).
 *
 * Mount one instance per kind, e.g. `app.route('/v3/package', createPublishRoutes(deps, 'package'))`,
 * `app.route('/v3/symbolpackage', createPublishRoutes(deps, 'symbols'))`, and the package one again at
 * `/api/v2/package`.
 */
import { rm } from 'node:fs/promises';
import { Hono, type Context } from 'hono';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/schema.ts';
import { forbidden, isNugateError, NugateError } from '../errors.ts';
import type { FolderPublisher } from '../sources/folder/publish.ts';
import { isValidId } from '../nuget/id.ts';
import { InvalidPackageError } from '../nuget/nuspec.ts';
import { readManifestFromFile } from '../nuget/nupkg.ts';
import { parseVersion } from '../nuget/version.ts';
import { credentialHeaderNames, redactHeaders } from '../upstream/credentials.ts';
import { drainRequest } from './drain.ts';
import { forward, type ForwardResponse } from './forward.ts';
import { createKeyCheck, keyAllowsId, type PublishKey } from './keys.ts';
import { folderNeedsMappedKeys, offlineRefusal, publishLocally } from './local.ts';
import { multipartFromFile } from './multipart.ts';
import { outboundHeaders, upstreamApiKey } from './outbound.ts';
import { relay, scrub } from './relay.ts';
import { reply, replyText, type PublishEnv } from './reply.ts';
import { spoolFirstPart, type SpooledFile, type SpoolResult } from './spool.ts';
import { chooseTarget } from './target.ts';
import { itemUrl, pushUrl } from './urls.ts';

export type PublishKind = 'package' | 'symbols';

export interface PublishDeps {
  config: Config;
  /** The target upstream's PackagePublish (kind 'package') or SymbolPackagePublish ('symbols') URL; throws a NugateError (404/501) when it has none. */
  publishUrl(upstream: string, kind: PublishKind): Promise<string>;
  /** The publisher of a folder upstream, which stores packages itself; undefined for an HTTP upstream. */
  local?(upstream: string): FolderPublisher | undefined;
  /** Eligible upstreams for an id by packageSourceMapping, in priority order (all upstreams when unmapped). */
  eligible(id: string): string[];
  /** Evict every cached resource of this id (flat container, registration, search, negative entries). */
  evict(id: string): Promise<void>;
  dispatcher: Dispatcher;
  log: Logger;
  tmpDir: string;
  env?: NodeJS.ProcessEnv;
}

/** The NuGet client gives a push 5 minutes (PushRunner); a slow upstream gets no less from us. */
const MIN_PUBLISH_TIMEOUT = 5 * 60_000;
/** How much of a refused body we read before answering (drain.ts). */
const MIN_DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 30_000;

type Op = 'push' | 'unlist' | 'relist';

interface HttpTarget {
  upstream: UpstreamConfig;
  local?: undefined;
  /** What nugate sends as X-NuGet-ApiKey (undefined: none). */
  apiKey: string | undefined;
}

/** A folder upstream: its publisher stores the package, no key goes anywhere. */
interface LocalTarget {
  upstream: UpstreamConfig;
  local: FolderPublisher;
}

type Target = HttpTarget | LocalTarget;

/** Problems every push would hit, said once at start instead of only in a client's error text. */
function warnAboutConfig(config: Config, env: NodeJS.ProcessEnv, log: Logger, isFolder: (name: string) => boolean): void {
  const mapping = Object.values(config.packageSourceMapping ?? {}).some((p) => p.length > 0);
  if (config.publish.upstream === undefined && !mapping && config.upstreams.length > 1) {
    log.warn('publish is enabled with several upstreams, no packageSourceMapping and no publish.upstream: every push will be refused');
  }
  const targets = config.publish.upstream === undefined ? config.upstreams : config.upstreams.filter((u) => u.name.toLowerCase() === config.publish.upstream?.toLowerCase());
  if (config.publish.keyMode !== 'mapped') {
    // Only when the operator chose the folder as the target: a folder upstream that merely serves is no mistake.
    if (config.publish.upstream !== undefined && targets.some((u) => isFolder(u.name))) {
      log.warn({ upstream: config.publish.upstream }, 'publish.upstream is a folder but publish.keyMode is not "mapped": every push will be refused');
    }
    return;
  }
  for (const u of targets) {
    // A folder upstream takes no key of its own.
    if (isFolder(u.name)) continue;
    if (u.apiKeyEnv === undefined) log.warn({ upstream: u.name }, 'publish.keyMode is "mapped" but this upstream has no apiKeyEnv: pushes to it will fail');
    else if (!env[u.apiKeyEnv]) log.warn({ upstream: u.name, apiKeyEnv: u.apiKeyEnv }, 'publish.keyMode is "mapped" but the apiKeyEnv variable is not set');
  }
}

export function createPublishRoutes(deps: PublishDeps, kind: PublishKind): Hono<PublishEnv> {
  const { config } = deps;
  const env = deps.env ?? process.env;
  const log = deps.log.child({ component: 'publish', kind });
  const mapped = config.publish.keyMode === 'mapped';
  const enabled = config.publish.enabled && (kind === 'package' || config.publish.symbols);
  const checkKey = createKeyCheck(config.publish.keys);
  const secretHeaderNames = credentialHeaderNames(config.upstreams);
  const drainBudget = { maxBytes: Math.max(config.publish.maxSize, MIN_DRAIN_BYTES), maxMs: DRAIN_MS };
  /** The folder publisher for a package push to `name`; folders keep no symbols (see target()). */
  const folderOf = (name: string): FolderPublisher | undefined => (kind === 'package' ? deps.local?.(name) : undefined);
  if (enabled && kind === 'package') warnAboutConfig(config, env, log, (name) => folderOf(name) !== undefined);
  const app = new Hono<PublishEnv>();

  /**
   * Refusals that do not depend on the package, decided before its body is read: offline with no folder that
   * could take it (nothing may reach a network upstream offline), or a fixed folder target without mapped keys.
   */
  function refusedUpFront(): { status: number; message: string } | undefined {
    const fixed = config.publish.upstream;
    if (fixed !== undefined) {
      const folder = folderOf(fixed) !== undefined;
      if (config.offline && !folder) return { status: 404, message: offlineRefusal(fixed).message };
      if (folder && !mapped) return { status: 403, message: folderNeedsMappedKeys(fixed).message };
      return undefined;
    }
    if (config.offline && !config.upstreams.some((u) => folderOf(u.name) !== undefined)) return { status: 404, message: offlineRefusal().message };
    return undefined;
  }

  /** Answers without reading the body first would risk a reset connection; read it, then answer. */
  async function refuse(c: Context<PublishEnv>, status: number, message: string): Promise<Response> {
    const drained = await drainRequest(c.env.incoming, drainBudget);
    return replyText(c, status, message, { close: !drained });
  }

  /**
   * Key rules before the body is read. `mapped`: the client's key must be one of ours (403, never 401:
   * the client does not answer a push with credentials; protocol.md §5 item 50).
   */
  function clientKey(c: Context<PublishEnv>): { key: PublishKey | undefined; raw: string | undefined } | undefined {
    const raw = c.req.header('x-nuget-apikey');
    if (!mapped) return { key: undefined, raw };
    const key = checkKey(raw);
    return key === undefined ? undefined : { key, raw };
  }

  /** Picks the upstream and the key it gets; throws NugateError (400/403/404/500) when that is not possible. */
  function target(id: string, client: { key: PublishKey | undefined; raw: string | undefined }): Target {
    if (mapped && client.key !== undefined && !keyAllowsId(client.key, id)) {
      throw forbidden(`This API key may not publish "${id}"`);
    }
    const upstream = chooseTarget(config, deps.eligible, id);
    if (kind === 'symbols' && deps.local?.(upstream.name) !== undefined) {
      throw new NugateError('NO_PUBLISH', 501, `upstream "${upstream.name}" is a folder and does not accept symbol packages`);
    }
    const local = folderOf(upstream.name);
    if (local !== undefined) {
      if (!mapped) throw folderNeedsMappedKeys(upstream.name);
      return { upstream, local };
    }
    if (config.offline) throw offlineRefusal(upstream.name);
    return { upstream, apiKey: mapped ? upstreamApiKey(upstream, env) : client.raw };
  }

  /** After a 2xx: every cached resource of the id goes, so the next read sees the change (protocol.md §5 item 54). */
  async function evictAfter(op: Op, id: string): Promise<void> {
    try {
      await deps.evict(id);
    } catch (err) {
      log.warn({ op, id, err: (err as Error)?.message }, 'cache eviction after publish failed');
    }
  }

  /** Stores, unlists or relists in a folder upstream; answers like nuget.org (local.ts). */
  async function sendLocal(c: Context<PublishEnv>, op: Op, meta: { id: string; version: string }, t: LocalTarget, file?: SpooledFile): Promise<Response> {
    const started = Date.now();
    const outcome = await publishLocally(t.local, op, meta, file?.path);
    if (outcome.status >= 200 && outcome.status < 300) await evictAfter(op, meta.id);
    log.info({ op, upstream: t.upstream.name, folder: true, id: meta.id, version: meta.version, status: outcome.status, ms: Date.now() - started }, `publish ${op}`);
    return reply(c, outcome.status, outcome.reason, outcome.status < 300 ? '' : outcome.reason);
  }

  function fail(c: Context<PublishEnv>, op: Op, err: unknown, tmpPath?: string): Response {
    if (err instanceof InvalidPackageError) {
      // The temp path means nothing to the client.
      const text = `Invalid package: ${tmpPath ? err.message.split(tmpPath).join('package') : err.message}`;
      return replyText(c, 400, text);
    }
    if (isNugateError(err)) {
      if (err.status >= 500) log.error({ op, err: err.message }, 'publish failed');
      const text = err.status >= 500 && err.code === 'PUBLISH_MISCONFIGURED' ? 'nugate is misconfigured for publishing; see its log' : err.message;
      return replyText(c, err.status, text, { headers: err.headers });
    }
    log.error({ op, err: (err as Error)?.message }, 'publish failed');
    return replyText(c, 500, 'Internal error');
  }

  /** Sends one request upstream, evicts the id after a 2xx, logs without secrets, relays the answer. */
  async function send(
    c: Context<PublishEnv>,
    op: Op,
    meta: { id: string; version: string },
    t: HttpTarget,
    request: { url: string; method: 'PUT' | 'DELETE' | 'POST'; file?: SpooledFile },
  ): Promise<Response> {
    const headers = outboundHeaders({ upstream: t.upstream, url: request.url, apiKey: t.apiKey, clientHeader: (n) => c.req.header(n), env, withCredentials: config.publish.keyMode === 'mapped' });
    const multipart = request.file ? multipartFromFile(request.file.path, request.file.size) : undefined;
    if (multipart) {
      headers['content-type'] = multipart.contentType;
      headers['content-length'] = String(multipart.contentLength);
    }
    const started = Date.now();
    const entry = { op, upstream: t.upstream.name, id: meta.id, version: meta.version, headers: redactHeaders(headers, secretHeaderNames) };
    let res: ForwardResponse;
    try {
      res = await forward(deps.dispatcher, {
        url: request.url,
        method: request.method,
        headers,
        ...(multipart ? { body: multipart.body } : {}),
        timeout: Math.max(t.upstream.timeout, MIN_PUBLISH_TIMEOUT),
      });
    } catch (err) {
      const cause = scrub((err as Error)?.message ?? String(err), [t.apiKey]);
      log.warn({ ...entry, ms: Date.now() - started, err: cause }, 'publish upstream unreachable');
      const text = `Upstream "${t.upstream.name}" did not answer the ${op}`;
      // 502 lets the client retry the whole push; nugate never replays a consumed body itself.
      return replyText(c, 502, text);
    }
    if (res.status >= 200 && res.status < 300) await evictAfter(op, meta.id);
    log.info({ ...entry, status: res.status, ms: Date.now() - started }, `publish ${op}`);
    return relay(c, res, [t.apiKey, c.req.header('x-nuget-apikey')]);
  }

  // `/*` answers both `{mount}` and `{mount}/` (the client appends a slash; protocol.md §5 item 46);
  // deeper paths are not ours.
  app.put('/*', async function push(c) {
    const base = c.req.routePath.replace(/\/\*$/, '');
    if (c.req.path !== base && c.req.path !== `${base}/`) return refuse(c, 404, 'Not found');
    if (!enabled) return refuse(c, 404, kind === 'symbols' ? 'Symbol package publishing is disabled' : 'Publishing is disabled');
    const early = refusedUpFront();
    if (early !== undefined) return refuse(c, early.status, early.message);
    const client = clientKey(c);
    if (client === undefined) return refuse(c, 403, 'The API key is missing or not valid for this feed');

    let spooled: SpoolResult;
    try {
      spooled = await spoolFirstPart(c.env.incoming, { dir: deps.tmpDir, maxSize: config.publish.maxSize });
    } catch (err) {
      // Only local trouble (temp dir not writable…) gets here; the body is unread, so close afterwards.
      log.error({ op: 'push', err: (err as Error)?.message }, 'spooling the push failed');
      return replyText(c, 500, 'Internal error', { close: true });
    }
    switch (spooled.kind) {
      case 'tooLarge':
        return refuse(c, 413, `Package too large: the limit is ${config.publish.maxSize} bytes`);
      case 'noFile':
        return refuse(c, 400, 'The request has no package file part');
      case 'badBody':
        // The parser may stop before the body ends (a malformed header, a foreign content type).
        return refuse(c, 400, spooled.message);
      case 'aborted':
        return replyText(c, 400, 'Upload aborted', { close: true });
      case 'ioError':
        log.error({ op: 'push', err: spooled.message }, 'spooling the push failed');
        return replyText(c, 500, 'Internal error', { close: true });
    }
    const file = spooled.file;
    try {
      const { nuspec } = await readManifestFromFile(file.path);
      if (!isValidId(nuspec.id)) return replyText(c, 400, `Invalid package id "${nuspec.id}"`);
      if (parseVersion(nuspec.version) === undefined) {
        return replyText(c, 400, `Invalid package version "${nuspec.version}"`);
      }
      const t = target(nuspec.id, client);
      if (t.local !== undefined) return await sendLocal(c, 'push', nuspec, t, file);
      const url = pushUrl(await deps.publishUrl(t.upstream.name, kind));
      return await send(c, 'push', nuspec, t, { url, method: 'PUT', file });
    } catch (err) {
      return fail(c, 'push', err, file.path);
    } finally {
      await rm(file.path, { force: true });
    }
  });

  // Unlist and relist take the id and version exactly as typed (protocol.md §2.4), so the raw,
  // still-encoded path segments go upstream; the decoded ones are only validated.
  app.on(['DELETE', 'POST'], ['/:id/:version', '/:id/:version/'], async function unlistOrRelist(c) {
    const op: Op = c.req.method === 'DELETE' ? 'unlist' : 'relist';
    if (!enabled) return replyText(c, 404, 'Publishing is disabled');
    const early = refusedUpFront();
    if (early !== undefined) return replyText(c, early.status, early.message);
    const id = c.req.param('id');
    const version = c.req.param('version');
    if (!isValidId(id)) return replyText(c, 400, `Invalid package id "${id}"`);
    if (parseVersion(version) === undefined) return replyText(c, 400, `Invalid package version "${version}"`);
    const client = clientKey(c);
    if (client === undefined) return replyText(c, 403, 'The API key is missing or not valid for this feed');
    const segments = c.req.path.replace(/\/$/, '').split('/');
    const rawVersion = segments[segments.length - 1] ?? version;
    const rawId = segments[segments.length - 2] ?? id;
    try {
      const t = target(id, client);
      if (t.local !== undefined) return await sendLocal(c, op, { id, version }, t);
      const url = itemUrl(await deps.publishUrl(t.upstream.name, kind), rawId, rawVersion);
      return await send(c, op, { id, version }, t, { url, method: c.req.method === 'DELETE' ? 'DELETE' : 'POST' });
    } catch (err) {
      return fail(c, op, err);
    }
  });

  return app;
}
