/**
 * Progress for prefetch, export and import on stderr: a cli-progress bar when stderr is a terminal, plain lines
 * otherwise (CI logs, pipes), so stdout keeps only the plan and the summary.
 */
import cliProgress from 'cli-progress';
import type { ProgressStream } from './io.ts';

export interface Progress {
  /** The total grew (a closure is discovered as it is walked). */
  grow(n: number): void;
  /** One item done; `line` says what happened to it. */
  tick(line: string): void;
  stop(): void;
}

export function createProgress(label: string, opts: { total?: number; stream?: ProgressStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  let total = opts.total ?? 0;
  let done = 0;
  if (stream.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} [{bar}] {value}/{total} {item}`, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { item: '' });
    return {
      grow(n) {
        total += n;
        bar.setTotal(total);
      },
      tick(line) {
        bar.increment(1, { item: line.length > 60 ? `${line.slice(0, 57)}...` : line });
      },
      stop() {
        bar.stop();
      },
    };
  }
  return {
    grow(n) {
      total += n;
    },
    tick(line) {
      done++;
      stream.write(`${label} [${done}/${Math.max(total, done)}] ${line}\n`);
    },
    stop() {},
  };
}
