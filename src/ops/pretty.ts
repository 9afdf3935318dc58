/**
 * `log.format: "pretty"`: one readable line per log record, for a human at a terminal or `journalctl`:
 *   12:03:04.567 INFO  request method=GET path=/v3/index.json status=200 cache=HIT ms=1
 * A tiny formatter of our own: pino-pretty pulls in a dependency whose newest release needs Node 22
 * (strip-json-comments 5.1), which engine-strict refuses on Node 20. It receives lines after pino's redaction
 * and the secret scrubbing (logger.ts), so it never sees a credential.
 */
import type { DestinationStream } from 'pino';

const LEVELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, shown in their own places (or not at all). */
const FIXED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'app']);

function clock(ms: unknown): string {
  const d = typeof ms === 'number' ? new Date(ms) : new Date();
  return d.toISOString().slice(11, 23);
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s="]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/**
 * Formats one pino JSON line; a line that is not JSON is passed through as it is.
 *
 * @example
 * prettyLine('{"level":30,"time":0,"msg":"hi","a":1}') // '00:00:00.000 INFO  hi a=1'
 */
export function prettyLine(json: string): string {
  let rec: unknown;
  try {
    rec = JSON.parse(json);
  } catch {
    return json.trimEnd();
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return json.trimEnd();
  const fields = Object.entries(rec);
  const get = (k: string): unknown => fields.find(([name]) => name === k)?.[1];
  const level = get('level');
  const parts = [clock(get('time')), typeof level === 'number' ? (LEVELS[level] ?? String(level)) : 'INFO ', String(get('msg') ?? '')];
  for (const [k, v] of fields) {
    if (FIXED.has(k) || v === undefined) continue;
    // An error's stack goes on the lines below, where it can be read.
    if ((k === 'err' || k === 'error') && typeof v === 'object' && v !== null && 'stack' in v && typeof v.stack === 'string') {
      parts.push(`${k}=${value('message' in v ? v.message : '')}\n${v.stack}`);
      continue;
    }
    parts.push(`${k}=${value(v)}`);
  }
  return parts.join(' ');
}

/**
 * A pino destination writing pretty lines to `out` (default stdout).
 *
 * @example
 * pino({}, prettyDestination())
 */
export function prettyDestination(out: { write(text: string): unknown } = process.stdout): DestinationStream {
  return {
    // One record, or several access lines written together (logger.ts): each becomes its own line.
    write(text: string) {
      let lines = '';
      for (const line of text.split('\n')) if (line !== '') lines += `${prettyLine(line)}\n`;
      if (lines !== '') out.write(lines);
    },
  };
}
