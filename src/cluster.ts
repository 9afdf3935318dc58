/**
 * The primary process when `workers` > 1 (node:cluster): it forks the workers, which share the listening port
 * and the cache directory, and restarts one that dies as long as ops/restart-policy.ts allows. On SIGTERM/SIGINT
 * it stops them all and exits 0 once every worker has drained. When it gives up (every worker fails at start,
 * or a crash loop) it logs why, stops the rest and exits 1: a supervisor (systemd, Kubernetes) must see a
 * failure, not a clean stop.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { RestartPolicy } from './ops/restart-policy.ts';

/** Exit code of a primary that gave up on its workers. */
export const GAVE_UP_EXIT_CODE = 1;

export function superviseWorkers(count: number, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const policy = new RestartPolicy({ workers: count });
    // Workers that reached `listening`: only they prove the configuration works.
    const served = new Set<number>();
    let stopping = false;
    let exitCode = 0;
    const alive = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const finish = (): void => {
      log.info({ exitCode }, 'nugate: all workers stopped');
      resolve();
      process.exit(exitCode);
    };
    const stopAll = (): void => {
      stopping = true;
      const workers = alive();
      if (workers.length === 0) return finish();
      for (const w of workers) w.process.kill('SIGTERM');
    };
    cluster.on('listening', (worker) => {
      served.add(worker.id);
      policy.listening();
    });
    cluster.on('exit', (worker, code, signal) => {
      const listened = served.delete(worker.id);
      if (stopping) {
        if (alive().length === 0) finish();
        return;
      }
      const verdict = policy.died(listened);
      if (!verdict.restart) {
        log.fatal({ pid: worker.process.pid, code, signal, exitCode: GAVE_UP_EXIT_CODE }, `nugate: giving up on workers: ${verdict.reason}`);
        exitCode = GAVE_UP_EXIT_CODE;
        stopAll();
        return;
      }
      log.error({ pid: worker.process.pid, code, signal, listened }, 'nugate: worker died; starting a new one');
      cluster.fork();
    });
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      log.info({ signal }, 'nugate shutting down workers');
      stopAll();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    for (let i = 0; i < count; i++) cluster.fork();
    log.info({ workers: count }, 'nugate supervising workers');
  });
}
