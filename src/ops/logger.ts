/**
 * Structured JSON logs (pino). Credentials are redacted by path, and request logging only ever records the
 * header names it needs, so a key can reach a log line by neither route.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export const REDACT_PATHS = [
  'headers.authorization',
  'headers["x-nuget-apikey"]',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers["x-nuget-apikey"]',
  'req.headers.cookie',
  '*.password',
  '*.apiKey',
  '*.token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const opts = { level, base: { app: 'nugate' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination) : pino(opts);
}
