/**
 * The primary process when `workers` > 1 (node:cluster): it forks the workers, which share the listening port
 * and the cache directory, restarts one that dies (at most a few times a minute, so a crash loop ends), and on
 * SIGTERM/SIGINT stops them all and exits 0 once every worker has drained.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

const MAX_RESTARTS_PER_MINUTE = 5;

export function superviseWorkers(count: number, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const restarts: number[] = [];
    const fork = (): Worker => cluster.fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          log.info('nugate: all workers stopped');
          resolve();
          process.exit(0);
        }
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && (restarts[0] ?? 0) < now - 60_000) restarts.shift();
      if (restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        log.fatal({ pid: worker.process.pid, code, signal }, 'nugate: workers keep dying; giving up');
        stopping = true;
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
        process.exitCode = 1;
        return;
      }
      restarts.push(now);
      log.error({ pid: worker.process.pid, code, signal }, 'nugate: worker died; starting a new one');
      fork();
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'nugate shutting down workers');
      const alive = Object.values(cluster.workers ?? {});
      if (alive.length === 0) process.exit(0);
      for (const w of alive) w?.process.kill('SIGTERM');
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    for (let i = 0; i < count; i++) fork();
    log.info({ workers: count }, 'nugate supervising workers');
  });
}
