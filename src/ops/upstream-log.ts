/**
 * One debug line per upstream request (name, method, path without the query, status or failure, ms, bytes). The
 * path is the upstream's own (logs are for operators, never sent to clients); the query is dropped because
 * signed download URLs carry their signature there, and credentials only ever travel in headers.
 */
import type { Logger } from 'pino';
import type { ExchangeObserver } from '../upstream/observe.ts';

/**
 * Adds the debug line to an observer (the metrics one), so one registration per dispatcher does both.
 *
 * @example
 * observeDispatcher(dispatcher, withUpstreamLog(metrics.observer, log));
 */
export function withUpstreamLog(inner: ExchangeObserver, log: Logger): ExchangeObserver {
  return {
    answered(x) {
      inner.answered?.(x);
    },
    finished(x) {
      inner.finished(x);
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        { upstream: x.upstream, method: x.method, path: x.path, ...(x.status === undefined ? {} : { status: x.status }), ...(x.failure === undefined ? {} : { failure: x.failure }), ms: Math.round(x.ms), bytes: x.bytes },
        'upstream request',
      );
    },
  };
}
