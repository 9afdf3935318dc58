/**
 * Typed errors with a stable code and an HTTP status. `app.onError` (src/app.ts) is the one place that
 * turns them into responses; everything else throws.
 */
export class NugateError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers, e.g. Retry-After or X-NuGet-Warning. */
  readonly headers: Record<string, string>;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown; headers?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NugateError';
    this.code = code;
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

export const badRequest = (message: string): NugateError => new NugateError('BAD_REQUEST', 400, message);
export const notFound = (message = 'Not found'): NugateError => new NugateError('NOT_FOUND', 404, message);
export const forbidden = (message: string): NugateError => new NugateError('FORBIDDEN', 403, message);
export const payloadTooLarge = (message: string): NugateError => new NugateError('PAYLOAD_TOO_LARGE', 413, message);

/**
 * What went wrong with an upstream request. 'aborted' is the client going away: never the upstream's fault, so it
 * must not count against its breaker.
 */
export type UpstreamFailure = 'timeout' | 'connect' | 'too-large' | 'invalid-body' | 'redirect' | 'status' | 'refused' | 'aborted';

/** An upstream could not be reached or answered badly (5xx, timeout, invalid body). */
export class UpstreamError extends NugateError {
  readonly upstream: string;
  readonly reason: UpstreamFailure | undefined;
  constructor(upstream: string, message: string, options?: { cause?: unknown; status?: number; reason?: UpstreamFailure; headers?: Record<string, string> }) {
    super('UPSTREAM_UNAVAILABLE', options?.status ?? 502, `${upstream}: ${message}`, {
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
      ...(options?.headers === undefined ? {} : { headers: options.headers }),
    });
    this.upstream = upstream;
    this.reason = options?.reason;
  }
}

/** The upstream's breaker is open: we fail fast instead of waiting on timeouts. */
export class CircuitOpenError extends UpstreamError {
  constructor(upstream: string) {
    super(upstream, 'circuit open (upstream failing, requests fail fast until a probe succeeds)');
  }
}

export function isNugateError(err: unknown): err is NugateError {
  return err instanceof NugateError;
}
