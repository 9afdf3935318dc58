/**
 * A V3 feed over HTTP as a Source (source.ts). It discovers its resources from the upstream's service index, builds
 * every upstream URL itself (never from a client-chosen path), fetches through the one bounded fetch
 * (upstream/http.ts) behind its breaker, stores canonical documents under typed keys (keys.ts) and answers by the
 * cache's freshness rule (ARCHITECTURE.md "Freshness").
 */
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/schema.ts';
import type { BlobCache, BlobFile, BlobResult, DocCache, DocKind, DocResult, LoadResult, StoredDoc, UpstreamBody } from '../cache/types.ts';
import type { Policy } from '../cache/policy.ts';
import type { Clock } from '../cache/clock.ts';
import { parseServiceIndex, type UpstreamResources } from '../nuget/service-index.ts';
import { rewriteJsonInPlace } from '../nuget/rewrite.ts';
import { lowerNormalized } from '../nuget/version.ts';
import { leavesOfPage, pagesOfIndex, type Json, type Leaf } from '../merge/registration.ts';
import { localSearch, localAutocompleteIds, type LocalPackage } from '../merge/local-search.ts';
import type { SearchParams } from '../merge/search.ts';
import { FEED_SENTINEL } from '../feed-urls.ts';
import { NugateError, UpstreamError } from '../errors.ts';
import { Breaker } from '../upstream/breaker.ts';
import { upstreamCredentialHeaders } from '../upstream/credentials.ts';
import { fetchBuffer, fetchStream, type FetchRequest, type FetchedBuffer, type FetchedStream } from '../upstream/http.ts';
import { docKey, idKeys, idOfKey, keyPrefix } from './keys.ts';
import { buildDiscovered, underBases, type Discovered } from './http/discovery.ts';
import { fileName, heldMeta, JSON_HEADERS, localMeta, parseJson, retryAfterOf, searchQuery, startsWith, validatorsOf, ZIP_MAGIC } from './http/wire.ts';
import { toStoredRegistration, type StoredRegistration } from './http/stored-registration.ts';
import type { LinkSigner } from './links.ts';
import { completeEntry, entryFromNuspec, heldAsset, heldNuspec, isBare } from './complete.ts';
import { browserTemplatesOf } from './templates.ts';
import type { Answer, AnswerMeta, AutocompletePage, Capabilities, HeldPackage, PublishTarget, SearchPage, Source, VersionsOptions } from './source.ts';
import { isJsonObject } from '../nuget/json.ts';

export interface HttpSourceDeps {
  dispatcher: Dispatcher;
  docs: DocCache;
  blobs: BlobCache;
  policy: Policy;
  clock: Clock;
  log: Logger;
  /** Offline mode: nothing is fetched, what is held is served. */
  offline: boolean;
  env: NodeJS.ProcessEnv;
  limits: Config['limits'];
  links: LinkSigner;
}

/** How long held-package listings are reused (a walk over stored documents). */
const HELD_REUSE_MS = 30_000;
/** Completions from nuspecs, by upstream id/version: small objects, reused by every registration answer. */
const COMPLETIONS_MAX = 20_000;


export class HttpSource implements Source {
  readonly name: string;
  readonly local = false;
  readonly config: UpstreamConfig;
  readonly breaker: Breaker;
  private readonly deps: HttpSourceDeps;
  private readonly credentials: Record<string, string>;
  private readonly indexOrigin: string;
  private discovered: { body: string; value: Discovered } | undefined;
  /** Parsed stored documents, so a big registration is parsed once per stored copy, not once per request. */
  private readonly parsed: LRUCache<string, { body: string; value: StoredRegistration }>;
  private readonly completions = new LRUCache<string, Json>({ max: COMPLETIONS_MAX });
  private heldCache: { at: number; packages: Promise<HeldPackage[]> } | undefined;
  /** Values of documents this source just loaded, by their stored text (one use each; see answer()). */
  private readonly justLoaded = new LRUCache<string, object>({ max: 64 });

  constructor(config: UpstreamConfig, deps: HttpSourceDeps) {
    this.name = config.name;
    this.config = config;
    this.deps = deps;
    this.breaker = new Breaker({ maxFails: config.maxFails, failTimeout: config.failTimeout, clock: deps.clock });
    this.credentials = upstreamCredentialHeaders(config, deps.env);
    this.indexOrigin = new URL(config.url).origin;
    this.parsed = new LRUCache({ maxSize: Math.max(1, deps.limits.registrationSize * 2), sizeCalculation: (e) => Math.max(1, e.body.length) });
  }

  health(): 'closed' | 'open' | 'half-open' {
    return this.breaker.state();
  }

  async close(): Promise<void> {
    // The dispatcher is shared and closed by the app.
  }

  // --- discovery ----------------------------------------------------------------------------------------

  /** The upstream's resources, from its service index (cached with ttl.serviceIndex, stale-if-error). */
  async discover(): Promise<Discovered> {
    const res = await this.doc({ type: 'serviceIndex' }, 'serviceIndex', (stale) => this.loadJson(this.config.url, stale, { rewrite: false }));
    if (res.doc.status !== 200) throw new UpstreamError(this.name, 'has no service index (404)', { reason: 'status' });
    if (this.discovered?.body === res.doc.body) return this.discovered.value;
    let resources: UpstreamResources;
    try {
      resources = parseServiceIndex(JSON.parse(res.doc.body));
    } catch (err) {
      throw new UpstreamError(this.name, 'sent an invalid service index', { cause: err, reason: 'invalid-body' });
    }
    const value = buildDiscovered(this.name, resources, { indexOrigin: this.indexOrigin, redirectOrigins: this.config.redirectOrigins, links: this.deps.links });
    this.discovered = { body: res.doc.body, value };
    return value;
  }

  async capabilities(): Promise<Capabilities> {
    let d: Discovered;
    try {
      d = await this.discover();
    } catch {
      return { search: false, vulnerability: false, publish: false, symbols: false, browserTemplates: [] };
    }
    const r = d.resources;
    return {
      search: r.search.length > 0,
      vulnerability: r.vulnerabilityInfo !== undefined,
      publish: r.packagePublish !== undefined,
      symbols: r.symbolPackagePublish !== undefined,
      browserTemplates: browserTemplatesOf(r),
    };
  }

  // --- fetching -----------------------------------------------------------------------------------------

  private request(url: string, d: Discovered | undefined, opts: { headers: Record<string, string>; file: boolean; timeout?: number; maxBytes: number }): FetchRequest {
    const credentialOrigins = d?.credentialOrigins ?? [this.indexOrigin];
    const own = d?.jsonOrigins ?? [this.indexOrigin, ...(this.config.redirectOrigins ?? [])];
    const req: FetchRequest = {
      upstream: this.name,
      url,
      headers: opts.headers,
      credentials: this.credentials,
      credentialOrigins,
      timeout: opts.timeout ?? this.config.timeout,
      idleTimeout: this.config.idleTimeout,
      maxBytes: opts.maxBytes,
    };
    // Package files may leave the upstream's origins (GitHub Packages and Azure Artifacts redirect downloads to blob
    // storage) unless the operator listed where they may go; JSON documents stay on the upstream's own origins.
    if (!opts.file) req.redirectOrigins = own;
    else if (this.config.redirectOrigins !== undefined) req.redirectOrigins = [...(d?.credentialOrigins ?? [this.indexOrigin]), ...this.config.redirectOrigins];
    return req;
  }

  /** Checks offline mode and the breaker, then runs `send`; transport failures and 5xx count against the upstream. */
  private async guarded<T extends { status: number }>(send: () => Promise<T>): Promise<T> {
    if (this.deps.offline) throw new NugateError('OFFLINE', 404, 'nugate is offline and this is not held');
    if (!this.breaker.allow()) throw new UpstreamError(this.name, 'failed repeatedly; requests fail fast until a probe succeeds', { reason: 'connect' });
    let res: T;
    try {
      res = await send();
    } catch (err) {
      if (!(err instanceof UpstreamError && err.reason === 'aborted')) this.breaker.failure();
      throw err;
    }
    if (res.status >= 500) this.breaker.failure();
    else this.breaker.success();
    return res;
  }

  /** An upstream answer that is neither success nor not-found, as the error clients should see. */
  private statusError(res: { status: number; headers: Record<string, string> }): UpstreamError {
    if (res.status === 429) {
      const retryAfter = retryAfterOf(res.headers, this.deps.clock.now());
      return new UpstreamError(this.name, 'rate limited nugate (429)', { status: 429, reason: 'status', ...(retryAfter ? { headers: { 'retry-after': retryAfter } } : {}) });
    }
    if (res.status === 401 || res.status === 403 || res.status === 407) {
      return new UpstreamError(this.name, `refused nugate's credentials (${res.status})`, { status: 502, reason: 'refused' });
    }
    if (res.status >= 500) return new UpstreamError(this.name, `failed (${res.status})`, { status: 502, reason: 'status' });
    // Any other 4xx: the upstream refuses the request itself; retrying will not help.
    return new UpstreamError(this.name, `refused the request (${res.status})`, { status: 502, reason: 'refused' });
  }

  private async getJson(url: string, headers: Record<string, string>, opts: { timeout?: number; maxBytes?: number } = {}): Promise<FetchedBuffer> {
    const d = url === this.config.url ? undefined : await this.discover();
    if (d !== undefined && (!underBases(url, d.readBases) || underBases(url, d.publishBases))) {
      // Upstream documents name further URLs (registration pages); only those under the upstream's own read
      // resources are fetched, so no document can point nugate at another host (SSRF) or at a publish endpoint
      // (which would get the upstream's credentials on a GET).
      throw new UpstreamError(this.name, 'named a document outside its own resources; not fetched', { reason: 'invalid-body' });
    }
    const req = this.request(url, d, { headers, file: false, maxBytes: opts.maxBytes ?? this.deps.limits.jsonSize, ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }) });
    return this.guarded(() => fetchBuffer(this.deps.dispatcher, req));
  }

  /**
   * A DocLoader body: conditional GET of a JSON document. 404/410 → notFound; 304 → notModified; 200 → parsed,
   * optionally transformed, rewritten to canonical URLs. Anything else throws (never cached).
   */
  private async loadJson(url: string, stale: StoredDoc | undefined, opts: { rewrite: boolean; timeout?: number; transform?: (json: unknown) => Promise<unknown> | unknown }): Promise<LoadResult> {
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (stale?.status === 200 && stale.validators.etag) headers['if-none-match'] = stale.validators.etag;
    if (stale?.status === 200 && stale.validators.lastModified) headers['if-modified-since'] = stale.validators.lastModified;
    const res = await this.getJson(url, headers, opts.timeout === undefined ? {} : { timeout: opts.timeout });
    if (res.status === 404 || res.status === 410) return { kind: 'notFound' };
    if (res.status === 304 && stale?.status === 200) return { kind: 'notModified', validators: validatorsOf(res.headers) };
    if (res.status !== 200) throw this.statusError(res);
    let json = parseJson(this.name, res.body);
    if (opts.transform) json = await opts.transform(json);
    if (opts.rewrite) json = rewriteJsonInPlace(json, (await this.discover()).table);
    const body = JSON.stringify(json);
    // The answer that follows this load reads the value it was just made from, not a second parse of its text.
    if (typeof json === 'object' && json !== null) this.justLoaded.set(body, json);
    return { kind: 'ok', body, validators: validatorsOf(res.headers) };
  }

  private doc(key: Parameters<typeof docKey>[1], kind: DocKind, loader: (stale: StoredDoc | undefined) => Promise<LoadResult>, opts?: { revalidate?: boolean }): Promise<DocResult> {
    return this.deps.docs.get(docKey(this.name, key), kind, this.name, loader, opts);
  }

  private meta(res: DocResult, kind: DocKind): AnswerMeta {
    const stale = res.state === 'STALE';
    const meta: AnswerMeta = {
      state: res.state,
      ageMs: res.ageMs,
      freshMs: stale ? 0 : Math.max(0, this.deps.policy.ttl(kind, this.name, res.doc.status) - res.ageMs),
    };
    if (res.staleReason !== undefined) meta.staleReason = res.staleReason;
    return meta;
  }

  private answer<T>(res: DocResult, kind: DocKind, value: (body: string, parse: () => unknown) => T): Answer<T> {
    const meta = this.meta(res, kind);
    if (res.doc.status !== 200) return { found: false, meta };
    const body = res.doc.body;
    // Taken once: a value handed to a caller may be changed by it, so a later answer parses the stored text again.
    const parse = (): unknown => {
      const loaded = this.justLoaded.get(body);
      if (loaded === undefined) return JSON.parse(body);
      this.justLoaded.delete(body);
      return loaded;
    };
    return { found: true, value: value(body, parse), meta };
  }

  // --- versions -----------------------------------------------------------------------------------------

  async versions(id: string, opts: VersionsOptions = {}): Promise<Answer<string[]>> {
    const d = await this.discoverForRead();
    let answer: Answer<string[]>;
    if (d !== undefined && d.resources.packageBaseAddress === undefined) {
      // No flat container (Artifactory-shaped feeds, protocol.md §4): the registration lists the versions.
      const reg = await this.registrationDoc(id);
      answer = reg.found ? { found: true, value: reg.value.leaves.map((l) => l.version), meta: reg.meta } : { found: false, meta: reg.meta };
      if (opts.mustInclude !== undefined && this.shouldRecheck(answer, opts.mustInclude)) {
        const again = await this.registrationDoc(id, true);
        answer = again.found ? { found: true, value: again.value.leaves.map((l) => l.version), meta: again.meta } : { found: false, meta: again.meta };
      }
    } else {
      answer = await this.flatVersions(id, false);
      if (opts.mustInclude !== undefined && this.shouldRecheck(answer, opts.mustInclude)) answer = await this.flatVersions(id, true);
    }
    return this.deps.offline ? this.onlyHeld(id, answer) : answer;
  }

  /** A held list that lacks the wanted version, and was not just fetched, is asked again before a 404. */
  private shouldRecheck(answer: Answer<string[]>, version: string): boolean {
    if (this.deps.offline) return false;
    if (answer.meta.state === 'MISS' || answer.meta.state === 'REVALIDATED') return false;
    return !answer.found || !answer.value.includes(version);
  }

  private async flatVersions(id: string, revalidate: boolean): Promise<Answer<string[]>> {
    const res = await this.doc(
      { type: 'versions', id },
      'metadata',
      async (stale) => {
        const { resources } = await this.discover();
        if (!resources.packageBaseAddress) return { kind: 'notFound' };
        return this.loadJson(`${resources.packageBaseAddress}${id}/index.json`, stale, {
          rewrite: false,
          transform: (json) => {
            const versions = isJsonObject(json) ? json.versions : undefined;
            // The client validates this shape (HttpStreamValidation); an upstream that sends something else is broken.
            if (!Array.isArray(versions)) throw new UpstreamError(this.name, 'sent a version list without "versions"', { reason: 'invalid-body' });
            return { versions: versions.flatMap((v) => (typeof v === 'string' && lowerNormalized(v) !== undefined ? [lowerNormalized(v) as string] : [])) };
          },
        });
      },
      revalidate ? { revalidate: true } : undefined,
    );
    return this.answer(res, 'metadata', (_body, parse) => (parse() as { versions: string[] }).versions);
  }

  /** Offline, a version list names only what nugate can serve. */
  private async onlyHeld(id: string, answer: Answer<string[]>): Promise<Answer<string[]>> {
    if (!answer.found) return answer;
    const held: string[] = [];
    for (const v of answer.value) if (await this.holds(id, v, 'nupkg')) held.push(v);
    return held.length > 0 ? { found: true, value: held, meta: answer.meta } : { found: false, meta: answer.meta };
  }

  /** The service index when it can be had; undefined offline with none held (nothing else is then known either). */
  private async discoverForRead(): Promise<Discovered | undefined> {
    try {
      return await this.discover();
    } catch (err) {
      if (this.deps.offline) return undefined;
      throw err;
    }
  }

  // --- registration -------------------------------------------------------------------------------------

  private async registrationDoc(id: string, revalidate = false): Promise<Answer<StoredRegistration>> {
    const key = docKey(this.name, { type: 'registration', id });
    const res = await this.doc({ type: 'registration', id }, 'metadata', (stale) => this.loadRegistration(id, stale), revalidate ? { revalidate: true } : undefined);
    return this.answer(res, 'metadata', (body) => {
      const memo = this.parsed.get(key);
      if (memo?.body === body) return memo.value;
      const value = JSON.parse(body) as StoredRegistration;
      this.parsed.set(key, { body, value });
      return value;
    });
  }

  private async loadRegistration(id: string, stale: StoredDoc | undefined): Promise<LoadResult> {
    const d = await this.discover();
    const hive = d.resources.registrationSemVer2 ?? d.resources.registrationSemVer1;
    if (!hive) return { kind: 'notFound' };
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (stale?.status === 200 && stale.validators.etag) headers['if-none-match'] = stale.validators.etag;
    if (stale?.status === 200 && stale.validators.lastModified) headers['if-modified-since'] = stale.validators.lastModified;
    const budget = { bytes: this.deps.limits.registrationSize, pages: this.deps.limits.registrationPages };
    const res = await this.getJson(`${hive}${id}/index.json`, headers, { maxBytes: Math.min(budget.bytes, this.deps.limits.jsonSize) });
    if (res.status === 404 || res.status === 410) return { kind: 'notFound' };
    if (res.status === 304 && stale?.status === 200) return { kind: 'notModified', validators: validatorsOf(res.headers) };
    if (res.status !== 200) throw this.statusError(res);
    budget.bytes -= res.body.length;
    const index = parseJson(this.name, res.body);
    if (!isJsonObject(index) || !Array.isArray(index.items)) throw new UpstreamError(this.name, 'sent a registration index without "items"', { reason: 'invalid-body' });
    const leaves: Leaf[] = [];
    for (const page of pagesOfIndex(index)) {
      let items = page.items;
      if (items === undefined) {
        // Pages that are not inlined (128+ versions on nuget.org) are fetched within one budget for the whole id.
        if (--budget.pages < 0) throw new UpstreamError(this.name, `sent a registration with more than ${this.deps.limits.registrationPages} pages`, { reason: 'too-large' });
        if (budget.bytes <= 0) throw new UpstreamError(this.name, 'sent a registration larger than limits.registrationSize', { reason: 'too-large' });
        const pageRes = await this.getJson(page.url, { ...JSON_HEADERS }, { maxBytes: budget.bytes });
        if (pageRes.status !== 200) throw this.statusError(pageRes);
        budget.bytes -= pageRes.body.length;
        const doc = parseJson(this.name, pageRes.body);
        items = isJsonObject(doc) && Array.isArray(doc.items) ? doc.items : [];
      }
      leaves.push(...leavesOfPage({ items }, this.name));
    }
    const stored = toStoredRegistration(leaves, id, d.table);
    return { kind: 'ok', body: JSON.stringify(stored), validators: validatorsOf(res.headers) };
  }

  async registration(id: string): Promise<Answer<Leaf[]>> {
    const d = await this.discoverForRead();
    let reg: Answer<StoredRegistration>;
    try {
      reg = d === undefined ? { found: false, meta: heldMeta() } : await this.registrationDoc(id);
    } catch (err) {
      // Offline with no registration held: built from the held version list and nuspecs below.
      if (!this.deps.offline) throw err;
      reg = { found: false, meta: heldMeta() };
    }
    if (!reg.found) {
      if (!this.deps.offline) return { found: false, meta: reg.meta };
      return this.registrationFromHeld(id);
    }
    const leaves: Leaf[] = [];
    for (const l of reg.value.leaves) {
      if (this.deps.offline && !(await this.holds(id, l.version, 'nupkg'))) continue;
      leaves.push({ version: l.version, upstream: this.name, item: await this.completed(id, l.version, l.item) });
    }
    if (leaves.length === 0) return { found: false, meta: reg.meta };
    return { found: true, value: leaves, meta: reg.meta };
  }

  /** A bare leaf completed from the held nuspec (memoized); a complete leaf as it is. */
  private async completed(id: string, version: string, item: Json): Promise<Json> {
    const entry = isJsonObject(item.catalogEntry) ? item.catalogEntry : undefined;
    if (entry !== undefined && !isBare(entry)) return item;
    const memoKey = `${id}/${version}`;
    let fromNuspec = this.completions.get(memoKey);
    if (fromNuspec === undefined) {
      const held = await heldNuspec(this.deps.blobs, this.name, id, version);
      if (held === undefined) return item;
      fromNuspec = entryFromNuspec(held.nuspec, id, version);
      this.completions.set(memoKey, fromNuspec);
    }
    return { ...item, catalogEntry: completeEntry(entry ?? {}, fromNuspec) };
  }

  /** Offline registration of an id nugate holds packages of: versions from the held list, metadata from nuspecs. */
  private async registrationFromHeld(id: string): Promise<Answer<Leaf[]>> {
    let versions: Answer<string[]>;
    try {
      versions = await this.flatVersions(id, false);
    } catch {
      return { found: false, meta: heldMeta() };
    }
    if (!versions.found) return { found: false, meta: versions.meta };
    const leaves: Leaf[] = [];
    for (const version of versions.value) {
      if (!(await this.holds(id, version, 'nupkg'))) continue;
      const item: Json = {
        '@id': `${FEED_SENTINEL}registration/${id}/${version}.json`,
        '@type': 'Package',
        catalogEntry: { '@id': `${FEED_SENTINEL}registration/${id}/${version}.json#catalogEntry`, '@type': 'PackageDetails', id, version, listed: true },
        packageContent: `${FEED_SENTINEL}flatcontainer/${id}/${version}/${id}.${version}.nupkg`,
      };
      leaves.push({ version, upstream: this.name, item: await this.completed(id, version, item) });
    }
    return leaves.length > 0 ? { found: true, value: leaves, meta: versions.meta } : { found: false, meta: versions.meta };
  }

  // --- search -------------------------------------------------------------------------------------------

  private searchTimeout(): number {
    return Math.min(this.config.timeout, this.config.searchTimeout);
  }

  private async searchDoc(endpoint: 'search' | 'autocomplete', query: URLSearchParams): Promise<DocResult | undefined> {
    const d = await this.discoverForRead();
    const urls = d === undefined ? [] : endpoint === 'search' ? d.resources.search : d.resources.autocomplete;
    if (this.deps.offline || urls.length === 0) return undefined;
    const qs = query.toString();
    return this.doc({ type: endpoint, query: qs }, 'search', async (stale) => {
      let last: unknown;
      // nuget.org lists a primary and a secondary search host: the second is asked when the first fails.
      for (const url of urls) {
        try {
          return await this.loadJson(`${url}?${qs}`, stale, { rewrite: true, timeout: this.searchTimeout() });
        } catch (err) {
          last = err;
        }
      }
      throw last instanceof Error ? last : new UpstreamError(this.name, `${endpoint} failed`, { reason: 'status' });
    });
  }

  async search(params: SearchParams, extra: Record<string, string>): Promise<Answer<SearchPage>> {
    const q = searchQuery(params, extra);
    const res = await this.orLocal(() => this.searchDoc('search', q));
    if (res === undefined || 'local' in res) {
      const local = await this.localSearch(params, res?.error.message);
      // A down upstream contributes what nugate holds; with nothing held it is a failure, not an empty answer.
      if (res !== undefined && local.found && local.value.data.length === 0) throw res.error;
      return local;
    }
    return this.answer(res, 'search', (_body, parse) => {
      const b = parse() as { totalHits?: unknown; data?: unknown };
      const data = Array.isArray(b.data) ? b.data.filter(isJsonObject) : [];
      return { totalHits: typeof b.totalHits === 'number' ? b.totalHits : data.length, data };
    });
  }

  async autocomplete(params: SearchParams): Promise<Answer<AutocompletePage>> {
    const q = searchQuery(params, {});
    const res = await this.orLocal(() => this.searchDoc('autocomplete', q));
    if (res === undefined || 'local' in res) {
      const value = localAutocompleteIds(await this.localPackages(), params, () => [this.name]);
      if (res !== undefined && value.data.length === 0) throw res.error;
      return { found: true, value, meta: localMeta(res?.error.message) };
    }
    return this.answer(res, 'search', (_body, parse) => {
      const b = parse() as { totalHits?: unknown; data?: unknown };
      const data = Array.isArray(b.data) ? b.data.filter((v): v is string => typeof v === 'string') : [];
      return { totalHits: typeof b.totalHits === 'number' ? b.totalHits : data.length, data };
    });
  }

  async autocompleteVersions(id: string, params: SearchParams): Promise<Answer<string[]>> {
    const q = new URLSearchParams({ id, prerelease: String(params.prerelease) });
    if (params.semVerLevel !== undefined) q.set('semVerLevel', params.semVerLevel);
    const res = await this.orLocal(() => this.searchDoc('autocomplete', q));
    if (res === undefined || 'local' in res) {
      const local = (await this.localPackages()).filter((p) => p.id === id);
      const found = localSearch(local, { ...params, q: `id:${id}`, skip: 0, take: 1 }, () => [this.name]).data[0];
      const versions = Array.isArray(found?.versions) ? (found.versions as Array<{ version: string }>).map((v) => v.version) : [];
      if (res !== undefined && versions.length === 0) throw res.error;
      return { found: true, value: versions, meta: localMeta(res?.error.message) };
    }
    return this.answer(res, 'search', (_body, parse) => {
      const d = (parse() as { data?: unknown }).data;
      return Array.isArray(d) ? d.filter((v): v is string => typeof v === 'string') : [];
    });
  }

  /**
   * The upstream's answer, or a marker to answer from what nugate holds: when the upstream has no search service,
   * nugate is offline, or the upstream failed and nothing was cached (a down upstream still contributes what is held).
   */
  private async orLocal(ask: () => Promise<DocResult | undefined>): Promise<DocResult | { local: true; error: UpstreamError } | undefined> {
    try {
      return await ask();
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      return { local: true, error: err };
    }
  }

  private async localSearch(params: SearchParams, reason: string | undefined): Promise<Answer<SearchPage>> {
    const packages = await this.localPackages();
    return { found: true, value: localSearch(packages, params, () => [this.name]), meta: localMeta(reason) };
  }

  private async localPackages(): Promise<LocalPackage[]> {
    return (await this.held()).map((p) => ({ ...p, upstream: this.name }));
  }

  // --- what is held -------------------------------------------------------------------------------------

  held(): Promise<HeldPackage[]> {
    const now = this.deps.clock.now();
    if (this.heldCache && now - this.heldCache.at < HELD_REUSE_MS) return this.heldCache.packages;
    const packages = this.gatherHeld();
    this.heldCache = { at: now, packages };
    packages.catch(() => {
      this.heldCache = undefined;
    });
    return packages;
  }

  private async gatherHeld(): Promise<HeldPackage[]> {
    const byId = new Map<string, HeldPackage>();
    for await (const [key, doc] of this.deps.docs.entries(keyPrefix(this.name, 'registration'))) {
      const id = idOfKey(this.name, 'registration', key);
      if (id === undefined || doc.status !== 200) continue;
      const stored = JSON.parse(doc.body) as StoredRegistration;
      const versions: HeldPackage['versions'] = [];
      let displayId = id;
      for (const l of stored.leaves) {
        // Offline, only what nugate can serve is listed (a search hit must lead to a restorable package).
        if (this.deps.offline && !(await this.holds(id, l.version, 'nupkg'))) continue;
        const item = await this.completed(id, l.version, l.item);
        const entry = isJsonObject(item.catalogEntry) ? item.catalogEntry : undefined;
        if (typeof entry?.id === 'string') displayId = entry.id;
        versions.push({ version: typeof entry?.version === 'string' ? entry.version : l.version, listed: entry?.listed !== false, ...(entry ? { entry } : {}) });
      }
      if (versions.length > 0) byId.set(id, { id, displayId, versions });
    }
    for await (const [key, doc] of this.deps.docs.entries(keyPrefix(this.name, 'versions'))) {
      const id = idOfKey(this.name, 'versions', key);
      if (id === undefined || doc.status !== 200 || byId.has(id)) continue;
      const list = (JSON.parse(doc.body) as { versions?: unknown }).versions;
      const versions: HeldPackage['versions'] = [];
      let displayId = id;
      for (const version of Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string') : []) {
        if (this.deps.offline && !(await this.holds(id, version, 'nupkg'))) continue;
        const held = this.completions.get(`${id}/${version}`) ?? (await heldNuspec(this.deps.blobs, this.name, id, version).then((h) => (h ? entryFromNuspec(h.nuspec, id, version) : undefined)));
        if (held !== undefined) {
          this.completions.set(`${id}/${version}`, held);
          if (typeof held.id === 'string') displayId = held.id;
        }
        versions.push({ version, listed: true, ...(held ? { entry: held } : {}) });
      }
      if (versions.length > 0) byId.set(id, { id, displayId, versions });
    }
    return [...byId.values()];
  }

  // --- package files ------------------------------------------------------------------------------------

  async holds(id: string, version: string, file: BlobFile): Promise<boolean> {
    return this.deps.blobs.has({ upstream: this.name, id, version, file });
  }

  async file(id: string, version: string, file: BlobFile): Promise<BlobResult | undefined> {
    // The nuspec, readme and icon of a held package are inside it: no upstream request for them.
    if (file !== 'nupkg' && !(await this.holds(id, version, file))) {
      const held = await this.fromHeldPackage(id, version, file);
      if (held !== undefined) return held;
    }
    const found = await this.deps.blobs.get({ upstream: this.name, id, version, file }, () => this.loadFile(id, version, file));
    if (found?.state === 'MISS' && file === 'nupkg') this.heldCache = undefined; // a new package: the held listing (search) is out of date
    if (found !== undefined || file === 'nupkg') return found;
    // The nuspec, readme or icon of a held package, when the upstream does not serve it (or nugate is offline).
    return this.fromHeldPackage(id, version, file);
  }

  private async loadFile(id: string, version: string, file: BlobFile): Promise<UpstreamBody | 'notFound'> {
    const d = await this.discover();
    const url = await this.fileUrl(d, id, version, file);
    if (url === undefined) return 'notFound';
    const req = this.request(url, d, { headers: { 'accept-encoding': 'identity' }, file: true, maxBytes: this.deps.limits.packageSize });
    const res: FetchedStream = await this.guarded(() => fetchStream(this.deps.dispatcher, req));
    if (res.status === 404 || res.status === 410) {
      res.body.resume();
      return 'notFound';
    }
    if (res.status !== 200) {
      res.body.resume();
      throw this.statusError(res);
    }
    // A login page or an error text sent with a 200 is refused before the client is told anything: a package is a
    // zip, which starts with a local file header (PK\x03\x04).
    if (file === 'nupkg' && !(await startsWith(res.body, ZIP_MAGIC))) {
      res.body.destroy();
      throw new UpstreamError(this.name, 'sent something that is not a package', { reason: 'invalid-body' });
    }
    // A body that breaks off half-way is an upstream failure too.
    res.body.once('error', (err: unknown) => {
      if (!(err instanceof UpstreamError && err.reason === 'aborted')) this.breaker.failure();
    });
    const body: UpstreamBody = { stream: res.body };
    if (res.length !== undefined) body.length = res.length;
    if (res.headers['content-type']) body.contentType = res.headers['content-type'];
    if (file === 'nupkg') {
      const hash = await this.heldHash(id, version);
      if (hash !== undefined) body.sha512 = hash;
    }
    return body;
  }

  /** Where a file is: the flat container, or (feeds without one) the registration's packageContent. */
  private async fileUrl(d: Discovered, id: string, version: string, file: BlobFile): Promise<string | undefined> {
    const base = d.resources.packageBaseAddress;
    if (base !== undefined) return `${base}${id}/${version}/${fileName(id, version, file)}`;
    if (file !== 'nupkg') return undefined;
    const reg = await this.registrationDoc(id);
    const content = reg.found ? reg.value.content[version] : undefined;
    if (content === undefined) return undefined;
    // Only inside what the upstream may be asked for: its own origins, or the operator's redirectOrigins.
    let origin: string;
    try {
      origin = new URL(content).origin;
    } catch {
      return undefined;
    }
    const allowed = [...d.credentialOrigins, ...(this.config.redirectOrigins ?? [])];
    if (!allowed.includes(origin)) {
      this.deps.log.warn({ upstream: this.name, id, version }, 'registration packageContent points outside the upstream; not fetched');
      return undefined;
    }
    return content;
  }

  /** packageHash from a held registration (never fetched just for this). */
  private async heldHash(id: string, version: string): Promise<string | undefined> {
    const memo = this.parsed.get(docKey(this.name, { type: 'registration', id }));
    return memo?.value.hashes[version];
  }

  private async fromHeldPackage(id: string, version: string, file: BlobFile): Promise<BlobResult | undefined> {
    const held = await heldNuspec(this.deps.blobs, this.name, id, version);
    if (held === undefined) return undefined;
    if (file === 'nuspec') {
      return { body: { kind: 'buffer', data: held.xml }, size: held.xml.length, contentType: 'application/xml', state: 'HIT' };
    }
    return file === 'nupkg' ? undefined : heldAsset(this.deps.blobs, this.name, id, version, file);
  }

  // --- vulnerability data and links ---------------------------------------------------------------------

  async vulnerabilityIndex(): Promise<Answer<unknown>> {
    const d = await this.discoverForRead();
    if (d === undefined || d.resources.vulnerabilityInfo === undefined) return { found: false, meta: heldMeta() };
    const url = d.resources.vulnerabilityInfo;
    const res = await this.doc({ type: 'vulnerabilityIndex' }, 'metadata', (stale) => this.loadJson(url, stale, { rewrite: true }));
    return this.answer(res, 'metadata', (_body, parse) => parse());
  }

  async linked(token: string): Promise<Answer<unknown>> {
    const link = this.deps.links.verify(this.name, token);
    if (link === undefined) return { found: false, meta: heldMeta() };
    const d = await this.discoverForRead();
    const base = d?.linkBases[link.slot];
    if (base === undefined) return { found: false, meta: heldMeta() };
    const url = base + link.rest;
    // Signed links only ever name what an upstream document said; still, never let one climb out of its base.
    if (!new URL(url).href.startsWith(base) || /(^|\/)\.\.?(\/|$|\?)/.test(link.rest) || (d !== undefined && underBases(url, d.publishBases))) return { found: false, meta: heldMeta() };
    const res = await this.doc({ type: 'link', token }, 'metadata', (stale) => this.loadJson(url, stale, { rewrite: true }));
    return this.answer(res, 'metadata', (_body, parse) => parse());
  }

  // --- publish and invalidation -------------------------------------------------------------------------

  async publishTarget(kind: 'package' | 'symbols'): Promise<PublishTarget | undefined> {
    const d = await this.discover();
    const url = kind === 'package' ? d.resources.packagePublish : d.resources.symbolPackagePublish;
    if (url === undefined) return undefined;
    return { kind: 'http', url, credentials: d.credentialOrigins.includes(new URL(url).origin) ? { ...this.credentials } : {}, dispatcher: this.deps.dispatcher };
  }

  async invalidate(id: string): Promise<void> {
    for (const key of idKeys(this.name, id)) this.parsed.delete(key);
    for (const key of [...this.completions.keys()]) if (key.startsWith(`${id}/`)) this.completions.delete(key);
    this.heldCache = undefined;
    await this.deps.docs.evictKeys(idKeys(this.name, id));
    // Any search answer may list the id.
    this.deps.docs.evictSearches();
    await this.deps.blobs.evictId(id);
  }
}

