/**
 * Records each answered request: one metric observation (labels from the fixed sets in labels.ts) and one info
 * line (warn for a 5xx) once the response is finished, with the request id, the client's session and user agent,
 * the bytes sent and the upstreams the request contacted (upstream/observe.ts traces them). It is mounted after
 * read auth, so a refused request reaches neither here nor a resource; `rejected` counts those under one fixed
 * series instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { X_CACHE_STATE, type TaggedResponse, type Env } from '../http/respond.ts';
import type { Metrics } from './metrics.ts';
import { resourceLabel, type ResourceLabel } from './labels.ts';
import { traceRequest, type RequestTrace, type UpstreamExchange } from '../upstream/observe.ts';
import type { UpstreamMetrics } from './upstream-metrics.ts';
import { lineWriterFor } from './logger.ts';

// Paths are client text of any length (up to Node's header limit); a log line needs only enough to recognise it.
const MAX_LOGGED_PATH = 512;
// The NuGet client sends a GUID. Anything else is not worth a log field, and is never echoed.
const SESSION_ID = /^[A-Za-z0-9-]{1,64}$/;
// An X-Request-Id from a front proxy is kept (and echoed) when it is a plain token; anything else gets a new id.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_LOGGED_AGENT = 256;

/** The only fields a request log line carries: no header, no query string, so no credential can reach it. */
export interface RequestLogFields {
  method: string;
  path: string;
  status: number;
  cache: string;
  ms: number;
  session?: string;
  /** The request id (X-Request-Id, echoed in the response). */
  id?: string;
  /** User agent, cut short and without control characters. */
  ua?: string;
  resource?: ResourceLabel;
  /** Bytes written to the client for this response, headers included (0 when unknown). */
  bytes?: number;
  /** The upstream requests made while answering: configured name, status (or failure), ms to headers. */
  upstream?: Array<{ name: string; status?: number; failure?: string; ms: number }>;
}

/** The id of a request: the client's (or front proxy's) X-Request-Id when sane, else a new one. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

function agentOf(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  return header.slice(0, MAX_LOGGED_AGENT).replace(/[\x00-\x1f\x7f]/g, '?');
}

function upstreamsOf(trace: RequestTrace): RequestLogFields['upstream'] {
  if (trace.upstreams.length === 0) return undefined;
  return trace.upstreams.map((x: UpstreamExchange) => ({ name: x.upstream, ms: Math.round(x.ms), ...(x.status === undefined ? {} : { status: x.status }), ...(x.failure === undefined ? {} : { failure: x.failure }) }));
}

/** What each connection had written when its last answer was recorded. */
const accounted = new WeakMap<Socket, number>();

/**
 * Bytes a connection wrote since its previous answer was recorded: this answer, headers included (HTTP/1.1 sends
 * one answer at a time per connection, and each is recorded once it is finished).
 */
function bytesOfAnswer(socket: Socket | null | undefined): number {
  if (!socket) return 0;
  const now = socket.bytesWritten;
  const bytes = now - (accounted.get(socket) ?? 0);
  accounted.set(socket, now);
  return Math.max(0, bytes);
}


function fieldsOf(c: Context, status: number, cache: string, ms: number): RequestLogFields {
  const fields: RequestLogFields = { method: c.req.method, path: c.req.path.slice(0, MAX_LOGGED_PATH), status, cache, ms };
  const session = c.req.header('x-nuget-session-id');
  if (session !== undefined && SESSION_ID.test(session)) fields.session = session;
  return fields;
}

// pino's numbers for the two levels an access line is written at.
const INFO = 30;
const WARN = 40;

/**
 * The access line as pino would write it (`level`, `time`, `app`, the fields, `msg`), formatted directly: a fixed
 * set of fields needs no generic serialiser. Strings go through JSON.stringify; numbers and labels are nugate's own.
 *
 * @example
 * accessLine(30, 0, { method: 'GET', path: '/v3/index.json', status: 200, cache: 'HIT', ms: 0 })
 * // '{"level":30,"time":0,"app":"nugate","method":"GET","path":"/v3/index.json","status":200,"cache":"HIT","ms":0,"msg":"request"}\n'
 */
export function accessLine(level: number, time: number, f: RequestLogFields): string {
  let out = `{"level":${level},"time":${time},"app":"nugate"`;
  if (f.id !== undefined) out += `,"id":${JSON.stringify(f.id)}`;
  out += `,"method":${JSON.stringify(f.method)},"path":${JSON.stringify(f.path)},"status":${f.status},"cache":${JSON.stringify(f.cache)},"ms":${f.ms}`;
  if (f.session !== undefined) out += `,"session":${JSON.stringify(f.session)}`;
  if (f.resource !== undefined) out += `,"resource":"${f.resource}"`;
  if (f.ua !== undefined) out += `,"ua":${JSON.stringify(f.ua)}`;
  if (f.upstream !== undefined) out += `,"upstream":${JSON.stringify(f.upstream)}`;
  if (f.bytes !== undefined) out += `,"bytes":${f.bytes}`;
  return `${out},"msg":"request"}\n`;
}

export interface AccessLog {
  /** Hono middleware for every request that passed read auth. */
  middleware: MiddlewareHandler<Env>;
  /** The same record for a request the fast hit path answered from the raw node request (http/fast-hit.ts). */
  answered(req: IncomingMessage, status: number, cache: string, started: number, id: string): void;
  /** For read auth's `onRejected`: counts and (at debug) logs a refused request. */
  rejected(c: Context): void;
}

/**
 * @example
 * const access = createAccessLog(metrics, log, (fields) => activity.record(fields));
 * app.use('*', readAuth(config, { onRejected: access.rejected }));
 * app.use('*', access.middleware);
 */
export function createAccessLog(metrics: Metrics, log: Logger, onAnswered?: (fields: RequestLogFields) => void, traffic?: UpstreamMetrics): AccessLog {
  const writer = lineWriterFor(log);
  /** The one access line (and the served-bytes metric), written when the answer is finished. */
  function line(fields: RequestLogFields, socket: Socket | null | undefined): void {
    fields.bytes = bytesOfAnswer(socket);
    traffic?.served(fields.resource ?? resourceLabel(fields.path), fields.cache, fields.bytes);
    const level = fields.status >= 500 ? WARN : INFO;
    if (writer === undefined) log[level === WARN ? 'warn' : 'info'](fields, 'request');
    else if (level >= writer.levelValue()) writer.write(accessLine(level, Date.now(), fields));
  }
  return {
    middleware: async function accessLog(c, next) {
      const started = performance.now();
      // Absent when the app is driven without a server (app.request() in tests).
      const outgoing: ServerResponse | undefined = c.env?.outgoing;
      const id = requestIdOf(c.req.header('x-request-id'));
      // On the node response, so it joins whatever head is written (Hono's, or a raw pipe's) at no cost to either.
      outgoing?.setHeader('x-request-id', id);
      const trace: RequestTrace = { upstreams: [] };
      await traceRequest(trace, next);
      const seconds = (performance.now() - started) / 1000;
      // Responses built by respond.ts carry their X-Cache state; reading res.headers would cost their fast path.
      const res: TaggedResponse = c.res;
      // A raw pipe (a package streamed while it downloads) wrote its head on the node response itself.
      const raw = outgoing?.getHeader('x-cache');
      const cache = res[X_CACHE_STATE] ?? res.headers.get('x-cache') ?? (typeof raw === 'string' ? raw : '-');
      const status = res.status;
      const resource = resourceLabel(c.req.path);
      metrics.observe(resource, status, cache, seconds);
      const fields: RequestLogFields = { id, ...fieldsOf(c, status, cache, Math.round(seconds * 1000)), resource };
      // The web UI's recent activity (src/ui/activity.ts): the same fixed fields a log line carries (it copies them).
      if (onAnswered !== undefined) onAnswered(fields);
      const ua = agentOf(c.req.header('user-agent'));
      if (ua !== undefined) fields.ua = ua;
      const upstream = upstreamsOf(trace);
      if (upstream !== undefined) fields.upstream = upstream;
      // Taken now: a finished response is detached from its socket.
      const socket = outgoing?.socket;
      const write = (): void => line(fields, socket);
      if (outgoing === undefined || outgoing.writableFinished || outgoing.destroyed) write();
      else outgoing.once('close', write);
    },
    answered(req, status, cache, started, id) {
      const seconds = (performance.now() - started) / 1000;
      const target = req.url ?? '/';
      const query = target.indexOf('?');
      const path = (query < 0 ? target : target.slice(0, query)).slice(0, MAX_LOGGED_PATH);
      const resource = resourceLabel(path);
      metrics.observe(resource, status, cache, seconds);
      const fields: RequestLogFields = { id, method: req.method ?? 'GET', path, status, cache, ms: Math.round(seconds * 1000), resource };
      const session = req.headers['x-nuget-session-id'];
      if (typeof session === 'string' && SESSION_ID.test(session)) fields.session = session;
      const ua = agentOf(req.headers['user-agent']);
      if (ua !== undefined) fields.ua = ua;
      // The activity ring copies what it keeps (ui/activity.ts).
      if (onAnswered !== undefined) onAnswered(fields);
      // The fast path has ended the response already: its bytes are on the socket.
      line(fields, req.socket);
    },
    rejected(c) {
      metrics.rejected();
      if (log.isLevelEnabled('debug')) log.debug(fieldsOf(c, 401, '-', 0), 'request refused by read auth');
    },
  };
}
