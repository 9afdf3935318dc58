/**
 * One publish request to an upstream. Uses undici's dispatch API because `request()` drops the reason
 * phrase, which nuget.org uses for its error text (protocol.md §2.4). Never retried and never redirected:
 * a push body is consumed once, and the client itself re-uploads after a 5xx (protocol.md §5 item 56); a
 * redirect is relayed as an answer, so nothing (credentials least of all) goes to the origin it names.
 *
 * Bounded like every upstream fetch: the request body is streamed (from the spool, never buffered); the
 * answer's headers must come within `timeout` of the last upload progress (undici refreshes headersTimeout on
 * each write that had to wait, and once the body is sent); the answer's text is kept up to `maxBody` bytes and
 * must arrive within `timeout` of the headers, or what came so far is used and the rest is cut off.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { isForbiddenHost } from '../upstream/redirect-policy.ts';

export interface ForwardRequest {
  url: string;
  method: 'PUT' | 'DELETE' | 'POST';
  headers: Record<string, string>;
  body?: Readable;
  /** Deadline for the answer's headers (from the last upload progress) and for its body, ms. */
  timeout: number;
}

export interface ForwardResponse {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  /** The start of the response body (error text), at most `maxBody` bytes. */
  body: Buffer;
}

/** Keeps per-request options that interceptors read but DispatchOptions does not declare. */
type GuardedOptions = Dispatcher.DispatchOptions & { maxRedirections: number; retryOptions: { maxRetries: number } };

/** Sends the request; rejects only on transport failure (or no headers in time). Every HTTP status resolves. */
export function forward(dispatcher: Dispatcher, req: ForwardRequest, maxBody = 64 * 1024): Promise<ForwardResponse> {
  const url = new URL(req.url);
  // The publish URL comes from the upstream's service index: the same address guard as every upstream fetch (the
  // shared dispatcher's DNS guard covers names; a literal address is refused here, before any connection).
  if (isForbiddenHost(url.hostname)) return Promise.reject(new Error('connection to a link-local or metadata address refused'));
  const options: GuardedOptions = {
    origin: url.origin,
    path: url.pathname + url.search,
    method: req.method,
    headers: req.headers,
    body: req.body ?? null,
    headersTimeout: req.timeout,
    bodyTimeout: req.timeout,
    // If the lead composes redirect/retry interceptors into the shared dispatcher, switch them off here.
    maxRedirections: 0,
    retryOptions: { maxRetries: 0 },
  };
  return new Promise((resolve, reject) => {
    let status = 0;
    let statusMessage = '';
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let kept = 0;
    let settled = false;
    let bodyDeadline: NodeJS.Timeout | undefined;
    let abort: (() => void) | undefined;
    /** Resolves with what has come so far; the rest of the answer, if any, is not waited for. */
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(bodyDeadline);
      resolve({ status, statusMessage, headers, body: Buffer.concat(chunks) });
    };
    dispatcher.dispatch(options, {
      // undici tells the new handler API from the legacy one by this method's presence (UnwrapHandler.unwrap).
      onRequestStart() {},
      onResponseStart(controller, statusCode, responseHeaders, message) {
        status = statusCode;
        statusMessage = message ?? '';
        headers = responseHeaders;
        abort = () => controller.abort(new Error('publish answer body not needed'));
        bodyDeadline = setTimeout(() => {
          finish();
          abort?.();
        }, req.timeout);
        bodyDeadline.unref();
      },
      onResponseData(_controller, chunk) {
        if (settled) return;
        const part = chunk.subarray(0, maxBody - kept);
        chunks.push(part);
        kept += part.length;
        if (kept >= maxBody) {
          // Enough error text: an endless answer must not hold the push open.
          finish();
          abort?.();
        }
      },
      onResponseEnd() {
        finish();
      },
      onResponseError(_controller, error) {
        if (settled) return;
        // After the headers, a broken body still leaves a status worth relaying.
        if (status !== 0) return finish();
        settled = true;
        clearTimeout(bodyDeadline);
        reject(error);
      },
    });
  });
}
