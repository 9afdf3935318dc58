/**
 * Shared by the tests of the bounded fetch (test/unit/upstream/fetch-*.test.ts): a request with test limits, and
 * the check that a fetch failed the way nugate reports upstream failures.
 */
import assert from 'node:assert/strict';
import { UpstreamError, type UpstreamFailure } from '../../src/errors.ts';
import type { FetchRequest } from '../../src/upstream/http.ts';

/** A request to `url` as the upstream named `upstream`, with `limits` (deadlines, byte cap) and any overrides. */
export function fetchRequest(upstream: string, url: string, limits: { timeoutMs: number; maxBytes: number }, over: Partial<FetchRequest> = {}): FetchRequest {
  return { upstream, url, timeout: limits.timeoutMs, idleTimeout: limits.timeoutMs, maxBytes: limits.maxBytes, ...over };
}

/** Asserts `p` fails with an UpstreamError of `reason`; returns it for further checks. */
export async function rejectsWith(p: Promise<unknown>, reason: UpstreamFailure): Promise<UpstreamError> {
  const err = await p.then(
    () => assert.fail(`expected a '${reason}' failure`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UpstreamError, `an UpstreamError, got ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  return err;
}
