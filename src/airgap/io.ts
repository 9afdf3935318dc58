/** Where the air-gap commands write: the plan and the summary to `out`, progress and problems to `err`. */
import type { Logger } from 'pino';

export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface CommandIo {
  out: NodeJS.WritableStream;
  /** A terminal gets a progress bar (isTTY), anything else plain lines. */
  err: ProgressStream;
  /** nugate's own log (warnings from the cache and the sources), kept off stdout. */
  log: Logger;
}
