/**
 * Structured JSON logs (pino). A credential can reach a log line by none of three routes:
 * - request logging records only the fields it names (ops/access-log.ts), never a header;
 * - errors are reduced to type, code, message, stack and cause (`serializeError`): the extra fields some
 *   errors carry (undici's `headers`, request options, bodies) are dropped, and header-shaped fields anywhere
 *   are redacted by path;
 * - the values of the secrets nugate holds (upstream tokens and headers, from the environment) are replaced in
 *   every line written, so even an error message that quotes one prints `[redacted]`.
 */
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { prettyDestination } from './pretty.ts';

export const REDACT_PATHS = [
  'headers.authorization',
  'headers["x-nuget-apikey"]',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers["x-nuget-apikey"]',
  'req.headers.cookie',
  '*.headers.authorization',
  '*.headers["x-nuget-apikey"]',
  '*.headers.cookie',
  '*.password',
  '*.apiKey',
  '*.token',
];

const CENSOR = '[redacted]';

// Shorter values are too likely to occur by chance (and replacing them would garble lines) to be worth hiding.
const MIN_SECRET_LENGTH = 6;
const MAX_CAUSE_DEPTH = 3;

export interface SerializedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SerializedError | string;
}

/**
 * The fields of an error worth logging, and nothing else.
 *
 * @example
 * serializeError(Object.assign(new Error('boom'), { headers: { authorization: 'x' } })) // { type: 'Error', message: 'boom', stack: … }
 */
export function serializeError(err: unknown, depth = 0): SerializedError | string {
  if (!(err instanceof Error)) {
    // A string is the common case (`err: err.message`); an arbitrary object may hold anything, so only its kind.
    return typeof err === 'object' && err !== null ? Object.prototype.toString.call(err) : String(err);
  }
  const out: SerializedError = { type: err.name, message: err.message };
  const code: unknown = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/** Every way a secret value can appear in a JSON log line: as is, and JSON-escaped. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

export interface LoggerExtras {
  /** Values that must never be written (credentials read from the environment). */
  secrets?: readonly string[];
  /** "pretty": one readable line per record (ops/pretty.ts), when no destination is given. Default "json". */
  format?: 'json' | 'pretty';
}

/** Writes lines that are already formatted (ops/access-log.ts) beside a logger's own: same stream, same scrub. */
export interface LineWriter {
  /** The logger's level as pino numbers it (info = 30): a line below it is not written. */
  levelValue(): number;
  /** One complete JSON line, newline included. */
  write(line: string): void;
}

/** Line writers, by the logger they write beside (see lineWriterFor). */
const lineWriters = new WeakMap<Logger, LineWriter>();

// Access lines of one event-loop turn are written together, up to this much text at once.
const MAX_LINE_BATCH = 64 * 1024;

export function createLogger(level: string, destination?: DestinationStream, extras: LoggerExtras = {}): Logger {
  const forms = secretForms(extras.secrets ?? []);
  const scrub = (text: string): string => (forms.length === 0 ? text : forms.reduce((out, f) => out.split(f).join(CENSOR), text));
  // Standard output is written asynchronously: lines written while a write is pending go out together, so a line
  // per request does not block on a system call per request. pino flushes what is buffered when the process exits.
  const stream = destination ?? (extras.format === 'pretty' ? prettyDestination() : pino.destination({ dest: 1, sync: false }));
  // Access lines (one per request) are gathered for the rest of the current event-loop turn and handed to the
  // stream in one write: under load a turn answers many requests, and each write to the stream has a cost of its
  // own. Nothing waits longer than the turn, and a line pino writes first sends what was gathered, so the order
  // of lines is kept.
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(scrub(text));
  };
  const opts: LoggerOptions = {
    level,
    base: { app: 'nugate' },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    serializers: { err: serializeError, error: serializeError },
    hooks: {
      streamWrite: (line) => {
        flush();
        return scrub(line);
      },
    },
  };
  const log = pino(opts, stream);
  // Access lines carry fixed fields only (ops/access-log.ts), never an object that could hold a header: they are
  // formatted there, without pino's generic serialisation and redaction walk (the bulk of a cached answer's cost).
  lineWriters.set(log, {
    levelValue: () => log.levelVal,
    write: (line) => {
      pending += line;
      if (pending.length >= MAX_LINE_BATCH) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  });
  return log;
}

/** How to write preformatted lines beside `log`; undefined for a logger createLogger did not make (tests). */
export function lineWriterFor(log: Logger): LineWriter | undefined {
  return lineWriters.get(log);
}
