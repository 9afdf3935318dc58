/**
 * The X-NuGet-Warning text for a copy served because the upstream failed (design.md §3 "Stale-if-error").
 * The NuGet client prints it as a warning, so it names the upstream, the reason and the copy's age.
 */
import { UpstreamError } from '../errors.ts';

/** Compact age: 45s, 12m, 5h, 3d. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m}m`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.round(h / 24)}d`;
}

/** Header values must be one line of visible ASCII (RFC 9110 §5.5); anything else becomes '?'. */
function headerSafe(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
}

/** The failure in a few words, without the "<upstream>: " prefix UpstreamError already adds. */
export function failureReason(upstream: string, err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof UpstreamError && message.startsWith(`${upstream}: `)) message = message.slice(upstream.length + 2);
  const short = message.length > 200 ? `${message.slice(0, 197)}...` : message;
  return headerSafe(short || 'unknown error');
}

export function cachedCopyWarning(upstream: string, reason: string, ageMs: number): string {
  return headerSafe(`nugate: upstream "${upstream}" failed (${reason}); serving a cached copy from ${formatAge(ageMs)} ago`);
}
