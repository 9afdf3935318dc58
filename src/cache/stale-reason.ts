/**
 * The reason a stale copy was served (DocResult.staleReason). It goes to logs and, when cache.staleWarning
 * asks for it, to clients as X-NuGet-Warning, so it is built from a fixed vocabulary and the upstream's
 * configured name only: never from an error message, which may carry a URL, a host name or an address.
 */
import { CircuitOpenError, NugateError } from '../errors.ts';

/** What a failure was, in a few words from a fixed set. */
export type FailureKind = 'timeout' | 'connection refused' | 'connection reset' | 'name not resolved' | 'circuit open' | 'invalid response' | 'error' | `HTTP ${number}`;

const TIMEOUT_CODES = /TIMEOUT|ETIMEDOUT/;

/** The error and its causes, outermost first (bounded: a cause cycle must not hang). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && out.length < 8; e = e instanceof Error ? e.cause : undefined) out.push(e);
  return out;
}

function codeOf(e: unknown): string {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : '';
}

/** Classifies a loader failure without looking at anything an upstream could have written into it. */
export function failureKind(err: unknown): FailureKind {
  for (const e of chain(err)) {
    if (e instanceof CircuitOpenError) return 'circuit open';
    const code = codeOf(e);
    if (TIMEOUT_CODES.test(code) || (e instanceof NugateError && e.status === 504)) return 'timeout';
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'connection reset';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'name not resolved';
    if (e instanceof Error) {
      // Our own upstream errors say "... answered <status>" (src/upstream); only the number is kept.
      const status = /\banswered (\d{3})\b/.exec(e.message)?.[1];
      if (status !== undefined) return `HTTP ${Number(status)}`;
      if (/\btimed out\b/.test(e.message)) return 'timeout';
      if (/\b(invalid|valid JSON|truncated|larger than|unsupported content-encoding)\b/.test(e.message)) return 'invalid response';
    }
  }
  return 'error';
}

/** e.g. `upstream "nuget.org" unavailable (timeout)`. */
export function staleReason(upstream: string, kind: FailureKind): string {
  // The name comes from the config; keep it to one line of visible ASCII all the same (it may become a header).
  const name = upstream.replace(/[^\x20-\x7e]|"/g, '?');
  return `upstream "${name}" unavailable (${kind})`;
}
