/**
 * The refusals of the publish routes, as NugateError for app.onError (the one place that builds error answers).
 * Statuses follow nuget.org, whose answers the NuGet client is written against (NuGetGallery
 * ApiKeyAuthenticationHandler and ApiController): no key → 401, a key it does not know → 403, a key without
 * the scope for the id → 403. A 403 on a push that carries a key makes the client stop (PromptOn403 is off
 * then), where a 401 would send it to its credential providers and re-upload the package (protocol.md §2.3).
 * No `WWW-Authenticate` goes with key failures (protocol.md §5 item 50): a Basic challenge would make the
 * client answer with read credentials, which are not what is missing.
 */
import { NugateError, forbidden, payloadTooLarge } from '../errors.ts';

/**
 * The answer is sent before the request body was read: the connection must close, or Node would read (and
 * throw away) the whole body to reuse it. This is what bounds a refused upload, not a drain budget.
 */
export function closing(err: NugateError): NugateError {
  return new NugateError(err.code, err.status, err.message, { cause: err.cause, headers: { ...err.headers, connection: 'close' } });
}

export function apiKeyRequired(): NugateError {
  return new NugateError('API_KEY_REQUIRED', 401, 'An API key is required to publish to this feed (X-NuGet-ApiKey)');
}

export function apiKeyRefused(): NugateError {
  return forbidden('The API key is not valid for this feed');
}

export function apiKeyOutOfScope(id: string): NugateError {
  return forbidden(`This API key may not publish "${id}"`);
}

export function packageTooLarge(maxSize: number): NugateError {
  return payloadTooLarge(`Package too large: the limit is ${maxSize} bytes`);
}

/** RFC 9110 §15.5.9: the client did not send the rest of the request in time. */
export function bodyStalled(idleMs: number): NugateError {
  return closing(new NugateError('REQUEST_TIMEOUT', 408, `The package upload stalled for more than ${Math.round(idleMs / 1000) || 1} s and was cut off`));
}

/**
 * A server-side mistake a client cannot fix: 500 with a short text, the detail only in nugate's log
 * (it names environment variables, which are none of the client's business).
 */
export function misconfigured(upstream: string, detail: string): NugateError {
  return new NugateError('PUBLISH_MISCONFIGURED', 500, `nugate is misconfigured for publishing to upstream "${upstream}"; see its log`, { cause: new Error(detail) });
}
