/**
 * One publish request to an upstream. Uses undici's dispatch API because `request()` drops the reason
 * phrase, which nuget.org uses for its error text (protocol.md §2.4). Never retried and never redirected:
 * a push body is consumed once, and the client itself re-uploads after a 5xx (protocol.md §5 item 56).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

export interface ForwardRequest {
  url: string;
  method: 'PUT' | 'DELETE' | 'POST';
  headers: Record<string, string>;
  body?: Readable;
  /** Headers and per-read body timeout, ms. */
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

/** Sends the request; rejects only on transport failure. Every HTTP status resolves. */
export function forward(dispatcher: Dispatcher, req: ForwardRequest, maxBody = 64 * 1024): Promise<ForwardResponse> {
  const url = new URL(req.url);
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
    dispatcher.dispatch(options, {
      // undici tells the new handler API from the legacy one by this method's presence (UnwrapHandler.unwrap).
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders, message) {
        status = statusCode;
        statusMessage = message ?? '';
        headers = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        if (kept >= maxBody) return;
        const part = chunk.subarray(0, maxBody - kept);
        chunks.push(part);
        kept += part.length;
      },
      onResponseEnd() {
        resolve({ status, statusMessage, headers, body: Buffer.concat(chunks) });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    });
  });
}
