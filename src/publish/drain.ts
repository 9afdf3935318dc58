/**
 * Reading the rest of a request body we refuse (too large, bad key). Answering while the client is still
 * uploading and then closing makes the kernel reset the connection, and the client may lose the answer
 * (protocol.md §5 item 51: "no reset connection"). So we read and discard, within a budget.
 */
import type { IncomingMessage } from 'node:http';

export interface DrainBudget {
  maxBytes: number;
  maxMs: number;
}

/**
 * Resolves true once the request body has ended (the connection can be reused), false when the budget ran
 * out, the client went away or the stream failed; then answer with `Connection: close`.
 */
export function drainRequest(incoming: IncomingMessage, budget: DrainBudget): Promise<boolean> {
  if (incoming.readableEnded) return Promise.resolve(true);
  if (incoming.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let bytes = 0;
    const done = (ended: boolean): void => {
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('close', onClose);
      incoming.off('error', onClose);
      resolve(ended);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > budget.maxBytes) done(false);
    };
    const onEnd = (): void => done(true);
    const onClose = (): void => done(incoming.readableEnded);
    const timer = setTimeout(() => done(false), budget.maxMs);
    timer.unref();
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('close', onClose);
    incoming.on('error', onClose);
    incoming.resume();
  });
}
