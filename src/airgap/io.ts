/** Where the air-gap commands write: the plan and the summary to `out`, progress and problems to `err`. */
import type { Logger } from 'pino';

export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WriteStream;
  /** nugate's own log (warnings from the cache and the sources), kept off stdout. */
  log: Logger;
}
