/**
 * The one bounded fetch every HTTP source uses. `fetchBuffer` (JSON documents) has one total deadline for connect,
 * headers and body; `fetchStream` (package files) has a deadline for the headers and then only an idle deadline
 * between body chunks. Both decode Content-Encoding as a stream with a cap on DECODED bytes, follow redirects by
 * the policy in redirect-policy.ts, send credentials only while the request stays on their origins, and fail with
 * an UpstreamError whose message names the upstream and the kind of failure, never a URL, host or address.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamError, type UpstreamFailure } from '../errors.ts';
import { createDecoder, DecodedMeter, parseEncoding } from './decode.ts';
import { FORBIDDEN_ADDRESS_CODE, MAX_REDIRECTS, isForbiddenHost, redirectRefusal } from './redirect-policy.ts';
import { exchangeAnswered, exchangeFinished, loggablePath, type UpstreamExchange } from './observe.ts';

export interface FetchRequest {
  /** The configured upstream name: the only way errors name the upstream. */
  upstream: string;
  url: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Added only while every hop so far stayed on one of `credentialOrigins` (none when that list is absent). */
  credentials?: Record<string, string>;
  credentialOrigins?: readonly string[];
  /**
   * Origins (scheme://host:port) a redirect may go to. Undefined: any origin the policy allows. The origin of
   * `url` itself is always allowed.
   */
  redirectOrigins?: readonly string[];
  /** ms. fetchBuffer: connect + headers + body. fetchStream: connect + headers (and a non-2xx body). */
  timeout: number;
  /** ms without a body chunk from the upstream (time the consumer spends not reading does not count). */
  idleTimeout: number;
  /** Cap on decoded body bytes. */
  maxBytes: number;
  /** The client's signal: its abort fails the fetch with reason 'aborted', never counted against the upstream. */
  signal?: AbortSignal;
}

/** Headers are lower-case; content-encoding and content-length are dropped when the body was decoded. */
export interface FetchedBuffer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The URL that finally answered (after redirects): for the caller, never for a client. */
  url: string;
}

export interface FetchedStream {
  status: number;
  headers: Record<string, string>;
  /** Decoded and bounded; any failure destroys it with an UpstreamError. A non-2xx body is a small buffered one. */
  body: Readable;
  url: string;
  /** Decoded length, when the upstream declared it (Content-Length without an encoding). */
  length?: number;
}

/** Enough of an error body to log or relay a message; the rest is not read. */
const ERROR_BODY_BYTES = 64 * 1024;
/** A zip inflating past 20× its encoded bytes (+1 MB for small files) is a decompression bomb. */
const BOMB_FACTOR = 20;
const BOMB_SLACK = 1024 * 1024;
/** undici's own timers stay as a backstop behind ours (its body timer has about 1 s resolution). */
const BACKSTOP_MS = 1_000;
const USER_AGENT = 'nugate/0.1 (+NuGet V3 proxy)';

/**
 * GETs a document into memory.
 * @example
 * const res = await fetchBuffer(dispatcher, { upstream: 'nuget', url, timeout: 30_000, idleTimeout: 20_000, maxBytes: 8 << 20 });
 * if (res.status === 200) JSON.parse(res.body.toString('utf8'));
 */
export async function fetchBuffer(dispatcher: Dispatcher, req: FetchRequest): Promise<FetchedBuffer> {
  const x = new Exchange(req);
  const report = new Report(dispatcher, req);
  x.startDeadline(req.timeout);
  try {
    const opened = await openFollowing(dispatcher, req, x, { headersTimeout: req.timeout, bodyTimeout: req.idleTimeout });
    const { status, url } = opened;
    report.answered(status, url);
    if (!isSuccess(status)) return { status, headers: opened.headers, body: report.finish(await errorBody(opened, x, req.idleTimeout)), url };
    const { body, headers } = boundedBody(opened, x, { maxBytes: req.maxBytes, idleTimeout: req.idleTimeout, bombGuard: false });
    return { status, headers, body: report.finish(await collect(body)), url };
  } catch (err) {
    report.failed(err);
    throw err;
  } finally {
    x.stopDeadline();
  }
}

/**
 * GETs a (possibly very large) file as a stream. The deadline ends with the headers; the body then only has the
 * idle deadline, so a big package on a slow link is not cut off while it keeps moving.
 */
export async function fetchStream(dispatcher: Dispatcher, req: FetchRequest): Promise<FetchedStream> {
  const x = new Exchange(req);
  const report = new Report(dispatcher, req);
  x.startDeadline(req.timeout);
  try {
    const opened = await openFollowing(dispatcher, req, x, { headersTimeout: req.timeout, bodyTimeout: req.idleTimeout });
    const { status, url } = opened;
    report.answered(status, url);
    if (!isSuccess(status)) {
      const body = report.finish(await errorBody(opened, x, req.idleTimeout));
      return { status, headers: opened.headers, body: Readable.from([body], { objectMode: false }), url, length: body.length };
    }
    x.stopDeadline();
    const bounded = boundedBody(opened, x, { maxBytes: req.maxBytes, idleTimeout: req.idleTimeout, bombGuard: true });
    report.follow(bounded.body);
    const out: FetchedStream = { status, headers: bounded.headers, body: bounded.body, url };
    if (bounded.length !== undefined) out.length = bounded.length;
    return out;
  } catch (err) {
    report.failed(err);
    throw err;
  } finally {
    x.stopDeadline();
  }
}

/** Reports one exchange to observe.ts: once when it is answered (or fails first), once when it is over. */
class Report {
  private readonly dispatcher: Dispatcher;
  private readonly started = performance.now();
  private readonly x: UpstreamExchange;
  private done = false;

  constructor(dispatcher: Dispatcher, req: FetchRequest) {
    this.dispatcher = dispatcher;
    this.x = { upstream: req.upstream, method: req.method ?? 'GET', path: loggablePath(req.url), ms: 0, bytes: 0 };
  }

  answered(status: number, url: string): void {
    this.x.status = status;
    this.x.path = loggablePath(url);
    this.x.ms = this.elapsed();
    exchangeAnswered(this.dispatcher, this.x);
  }

  finish<T extends { length: number }>(body: T): T {
    this.end(body.length);
    return body;
  }

  /** A streamed body: over when it closes; its decoded bytes are counted by the meter, not by reading it here. */
  follow(body: Readable): void {
    const decoded = (): number => (body instanceof DecodedMeter ? body.decoded : 0);
    body.once('error', (err: unknown) => {
      this.x.bytes = decoded();
      this.failed(err);
    });
    body.once('close', () => this.end(decoded()));
  }

  failed(err: unknown): void {
    if (this.done) return;
    this.x.failure = err instanceof UpstreamError ? (err.reason ?? 'connect') : 'connect';
    if (this.x.status === undefined) {
      this.x.ms = this.elapsed();
      exchangeAnswered(this.dispatcher, this.x);
    }
    this.end(this.x.bytes);
  }

  private end(bytes: number): void {
    if (this.done) return;
    this.done = true;
    this.x.bytes = bytes;
    exchangeFinished(this.dispatcher, this.x);
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }
}

/** What one request is up against: the total deadline, the client's abort, and which hop it is on. */
class Exchange {
  readonly req: Pick<FetchRequest, 'upstream' | 'signal'>;
  readonly signal: AbortSignal;
  /** Redirects followed so far (a refused address after a redirect is a redirect failure, not a connect one). */
  hop = 0;
  private readonly controller = new AbortController();
  private timedOutAfter: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(req: Pick<FetchRequest, 'upstream' | 'signal'>) {
    this.req = req;
    this.signal = req.signal ? AbortSignal.any([req.signal, this.controller.signal]) : this.controller.signal;
  }

  startDeadline(ms: number): void {
    this.timer = setTimeout(() => {
      this.timedOutAfter = ms;
      this.controller.abort();
    }, ms);
  }

  stopDeadline(): void {
    clearTimeout(this.timer);
  }

  error(reason: UpstreamFailure, message: string, cause?: unknown): UpstreamError {
    const options: ConstructorParameters<typeof UpstreamError>[2] = { reason, status: reason === 'timeout' ? 504 : 502 };
    if (cause !== undefined) options.cause = cause;
    return new UpstreamError(this.req.upstream, message, options);
  }

  /** The error for whatever stopped the exchange: the client, our deadline, or the transport. */
  classify(err: unknown, phase: 'connect' | 'body'): UpstreamError {
    if (this.req.signal?.aborted) return this.error('aborted', 'request aborted by the client', err);
    if (this.timedOutAfter !== undefined) return this.error('timeout', `no complete answer within ${this.timedOutAfter} ms`, err);
    if (err instanceof UpstreamError) return err;
    const code = errorCode(err);
    if (code === FORBIDDEN_ADDRESS_CODE) {
      return this.error(this.hop > 0 ? 'redirect' : 'connect', `${this.hop > 0 ? 'redirect' : 'connection'} to a link-local or metadata address refused`, err);
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return this.error('timeout', `timed out (${code})`, err);
    }
    const suffix = code ? ` (${code})` : '';
    return phase === 'connect' ? this.error('connect', `connection failed${suffix}`, err) : this.error('invalid-body', `body failed${suffix}`, err);
  }
}

/** Only a plain error code goes into a message: undici's and node's messages carry host names and addresses. */
function errorCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : '';
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

// https://www.rfc-editor.org/rfc/rfc9110#section-15.4 (300 and 304 are answers, not hops).
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

interface Opened {
  status: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
  url: string;
  method: 'GET' | 'HEAD';
}

/**
 * Sends the request and follows redirects by hand under the policy. Transport failures are classified by `x`;
 * any final status is returned.
 */
async function openFollowing(
  dispatcher: Dispatcher,
  req: Omit<FetchRequest, 'timeout' | 'idleTimeout' | 'maxBytes'>,
  x: Exchange,
  timers: { headersTimeout: number; bodyTimeout: number },
): Promise<Opened> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch (err) {
    throw x.error('connect', 'invalid upstream URL', err);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw x.error('connect', 'upstream URL is not http(s)');
  // net.connect does not call `lookup` for IP literals: those are checked here, names by the dispatcher's lookup.
  if (isForbiddenHost(url.hostname)) throw x.error('connect', 'connection to a link-local or metadata address refused');
  const home = url.origin;
  const method = req.method ?? 'GET';
  let credentialed = req.credentials !== undefined;
  for (x.hop = 0; ; x.hop++) {
    // Once a hop leaves the credential origins, a later hop back is chosen by a host that must not steer them.
    credentialed &&= (req.credentialOrigins ?? []).includes(url.origin);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
    if (credentialed && req.credentials) Object.assign(headers, req.credentials);
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method,
        headers,
        signal: x.signal,
        headersTimeout: timers.headersTimeout + BACKSTOP_MS,
        bodyTimeout: timers.bodyTimeout + BACKSTOP_MS,
      });
    } catch (err) {
      throw x.classify(err, 'connect');
    }
    const resHeaders = flattenHeaders(res.headers);
    const location = resHeaders.location;
    if (!REDIRECTS.has(res.statusCode) || location === undefined) {
      return { status: res.statusCode, headers: resHeaders, body: res.body, url: url.href, method };
    }
    drop(res.body);
    if (x.hop >= MAX_REDIRECTS) throw x.error('redirect', `too many redirects (more than ${MAX_REDIRECTS})`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch (err) {
      throw x.error('redirect', 'invalid redirect location', err);
    }
    const refusal = redirectRefusal(url, next, req.redirectOrigins, home);
    if (refusal !== undefined) throw x.error('redirect', refusal);
    url = next;
  }
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Reads a little of a body we will not use (so a small one frees its connection) and drops the rest. */
function drop(body: Dispatcher.ResponseData['body']): void {
  body.dump({ limit: ERROR_BODY_BYTES }).catch(() => {});
}

/** A response whose body is to be bounded (undici's, or an in-process transport's). */
type BodySource = Pick<Opened, 'status' | 'headers' | 'method'> & { body: Readable };

interface Bounded {
  body: Readable;
  headers: Record<string, string>;
  length?: number;
}

/**
 * The decoded, bounded body of a 2xx answer: upstream bytes → decoder → meter. Every failure (transport, decoding,
 * cap, bomb ratio, idle, Content-Length mismatch, client abort, deadline) destroys the returned stream with an
 * UpstreamError and releases the upstream body.
 */
function boundedBody(opened: BodySource, x: Exchange, limits: { maxBytes: number; idleTimeout: number; bombGuard: boolean }): Bounded {
  const raw = opened.body;
  const encoding = parseEncoding(opened.headers['content-encoding']);
  if (encoding === undefined) {
    release(raw);
    throw x.error('invalid-body', 'unsupported content-encoding');
  }
  const headers = { ...opened.headers };
  // https://www.rfc-editor.org/rfc/rfc9110#section-6.4.1: no content after HEAD, 204 or 304 (whatever Content-Length says).
  const hasBody = opened.method !== 'HEAD' && opened.status !== 204 && opened.status !== 304;
  const declaredHeader = headers['content-length'];
  const declared = declaredHeader !== undefined && /^\d+$/.test(declaredHeader.trim()) ? Number(declaredHeader) : undefined;
  if (encoding !== 'identity') {
    delete headers['content-encoding'];
    delete headers['content-length'];
  }
  const length = encoding === 'identity' ? declared : undefined;
  if (!hasBody) {
    release(raw);
    return { body: Readable.from([], { objectMode: false }), headers, ...(length === undefined ? {} : { length }) };
  }
  if (length !== undefined && length > limits.maxBytes) {
    release(raw);
    throw x.error('too-large', `body larger than ${limits.maxBytes} bytes`);
  }

  let encodedBytes = 0;
  const decoder = createDecoder(encoding);
  const meter = new DecodedMeter({
    maxBytes: limits.maxBytes,
    ...(limits.bombGuard ? { ratio: { factor: BOMB_FACTOR, slack: BOMB_SLACK, encodedBytes: () => encodedBytes } } : {}),
    tooLarge: (what) =>
      what === 'size' ? x.error('too-large', `body larger than ${limits.maxBytes} bytes`) : x.error('too-large', 'body inflates far beyond its encoded size (decompression bomb)'),
  });

  let settled = false;
  const idle = setTimeout(onIdle, limits.idleTimeout);
  const onAbort = (): void => fail(x.classify(x.signal.reason, 'body'));
  x.signal.addEventListener('abort', onAbort, { once: true });
  function cleanup(): void {
    settled = true;
    clearTimeout(idle);
    x.signal.removeEventListener('abort', onAbort);
  }
  function fail(err: UpstreamError): void {
    if (settled) return;
    cleanup();
    meter.destroy(err);
    decoder?.destroy();
    raw.destroy();
  }
  function onIdle(): void {
    // Paused or holding unread data means the consumer is the slow side: the upstream is not idle.
    if (raw.readableFlowing === false || raw.readableLength > 0) {
      idle.refresh();
      return;
    }
    fail(x.error('timeout', `no body data for ${limits.idleTimeout} ms`));
  }

  raw.on('data', (chunk: Buffer) => {
    encodedBytes += chunk.length;
    idle.refresh();
  });
  raw.on('end', () => {
    clearTimeout(idle);
    if (declared !== undefined && encodedBytes !== declared) fail(x.error('invalid-body', `body length ${encodedBytes} differs from Content-Length ${declared}`));
  });
  raw.on('error', (err) => fail(x.classify(err, 'body')));
  decoder?.on('error', (err) => fail(x.error('invalid-body', `invalid ${encoding} body`, err)));
  // The consumer sees the error through its own listener; this one only keeps a consumer without one from
  // crashing the process.
  meter.on('error', () => {});
  // Ended, failed (a limit of the meter's own included) or dropped by the consumer: release everything.
  meter.on('close', () => {
    cleanup();
    decoder?.destroy();
    if (!raw.readableEnded) raw.destroy();
  });

  if (decoder) raw.pipe(decoder).pipe(meter);
  else raw.pipe(meter);
  return { body: meter, headers, ...(length === undefined ? {} : { length }) };
}

/** Drops a body we will not read; undici reports an unread body's destruction as an error nobody needs. */
function release(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads a whole stream into memory (its producer bounds it). */
function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/**
 * Up to ERROR_BODY_BYTES of a non-2xx body, decoded when possible. A failure while reading it loses the text, not
 * the status, except a client abort.
 */
async function errorBody(opened: BodySource, x: Exchange, idleTimeout: number): Promise<Buffer> {
  let bounded: Bounded;
  try {
    // The cap is applied below by truncation: an error body is never worth failing the answer for.
    bounded = boundedBody(opened, x, { maxBytes: Number.MAX_SAFE_INTEGER, idleTimeout, bombGuard: false });
  } catch {
    return Buffer.alloc(0);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of bounded.body) {
      const b = chunk as Buffer;
      chunks.push(b.subarray(0, ERROR_BODY_BYTES - total));
      total += b.length;
      if (total >= ERROR_BODY_BYTES) break; // leaving the loop destroys the stream and so the upstream body
    }
  } catch (err) {
    if (err instanceof UpstreamError && err.reason === 'aborted') throw err;
  }
  return Buffer.concat(chunks);
}
