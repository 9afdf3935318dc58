/**
 * What the bounded fetch reports about each upstream exchange, and to whom:
 * - the client request it ran for (an AsyncLocalStorage context the access log opens), so the access line can
 *   name the upstream with its status and time;
 * - the app's observer registered for the dispatcher it used (metrics, the debug line per upstream request).
 * Observers hang off the dispatcher rather than a module-level list, so two apps in one process (tests) never
 * count each other's traffic.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Dispatcher } from 'undici';
import type { UpstreamFailure } from '../errors.ts';

/** One upstream request as fetch.ts saw it. */
export interface UpstreamExchange {
  /** The configured upstream name. */
  upstream: string;
  method: string;
  /** Path of the URL that answered, without its query (a query may carry a signature or key). */
  path: string;
  /** The final status, when headers arrived. */
  status?: number;
  /** Why it failed, when it did (a transport failure, a timeout, a cap). */
  failure?: UpstreamFailure;
  /** ms from sending to the answer's headers (or the failure). */
  ms: number;
  /** Decoded body bytes received; filled in when the body ends (a streamed package finishes after its headers). */
  bytes: number;
}

export interface ExchangeObserver {
  /** Headers arrived or the request failed before them. */
  answered?(x: UpstreamExchange): void;
  /** The exchange is over: body read, dropped, or failed. Called once per exchange. */
  finished(x: UpstreamExchange): void;
}

/** The upstream exchanges of one client request (the access log reads them when it writes its line). */
export interface RequestTrace {
  upstreams: UpstreamExchange[];
}

const requests = new AsyncLocalStorage<RequestTrace>();
const observers = new WeakMap<Dispatcher, ExchangeObserver>();

/** Runs `fn` with a fresh trace that every upstream exchange started inside it is added to. */
export function traceRequest<T>(trace: RequestTrace, fn: () => T): T {
  return requests.run(trace, fn);
}

/** Registers the observer of every exchange sent through `dispatcher`. */
export function observeDispatcher(dispatcher: Dispatcher, observer: ExchangeObserver): void {
  observers.set(dispatcher, observer);
}

/** Called by fetch.ts when headers arrive (or the request fails first). */
export function exchangeAnswered(dispatcher: Dispatcher, x: UpstreamExchange): void {
  // Coalesced requests share one exchange: only the request that started it lists it.
  requests.getStore()?.upstreams.push(x);
  observers.get(dispatcher)?.answered?.(x);
}

/** Called by fetch.ts once, when the exchange is over. */
export function exchangeFinished(dispatcher: Dispatcher, x: UpstreamExchange): void {
  observers.get(dispatcher)?.finished(x);
}

/** The path of a URL for a log line: no query, no fragment, bounded. */
export function loggablePath(url: string): string {
  try {
    return new URL(url).pathname.slice(0, 512);
  } catch {
    return '(invalid URL)';
  }
}
