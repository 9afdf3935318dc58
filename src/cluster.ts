/**
 * The primary process when `workers` > 1 (node:cluster): it forks the workers, which share the listening port
 * and the cache directory, and restarts one that dies as long as ops/restart-policy.ts allows. On SIGTERM/SIGINT
 * it stops them all and exits 0 once every worker has drained. When it gives up (every worker fails at start,
 * or a crash loop) it logs why, stops the rest and exits 1: a supervisor (systemd, Kubernetes) must see a
 * failure, not a clean stop.
 *
 * It also relays cache changes between the workers (cache/change-bus.ts): a publish through one worker is applied
 * by every other worker before the publishing worker answers its client.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { RestartPolicy } from './ops/restart-policy.ts';
import { isAckMessage, isChangeMessage, type ChangeMessage, type DoneMessage } from './cache/change-bus.ts';

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
    const relay = changeRelay(alive);
    cluster.on('message', relay.onMessage);
    cluster.on('listening', (worker) => {
      served.add(worker.id);
      policy.listening();
    });
    cluster.on('exit', (worker, code, signal) => {
      relay.gone(worker.id);
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

/**
 * The primary's end of the IPC change bus: forwards a worker's change to every other worker, collects their
 * acknowledgements and tells the publisher when all are in. A worker that exits counts as done.
 */
function changeRelay(alive: () => Worker[]): { onMessage: (worker: Worker, msg: unknown) => void; gone: (id: number) => void } {
  /** `${origin}:${seq}` → workers that have not acknowledged yet. */
  const waiting = new Map<string, { origin: Worker; seq: number; left: Set<number> }>();
  const settle = (key: string): void => {
    const entry = waiting.get(key);
    if (entry === undefined || entry.left.size > 0) return;
    waiting.delete(key);
    const done: DoneMessage = { nugate: 'done', seq: entry.seq };
    if (entry.origin.isConnected()) entry.origin.send(done);
  };
  return {
    onMessage(worker, msg) {
      if (isChangeMessage(msg)) {
        const key = `${worker.id}:${msg.seq}`;
        const others = alive().filter((w) => w.id !== worker.id && w.isConnected());
        waiting.set(key, { origin: worker, seq: msg.seq, left: new Set(others.map((w) => w.id)) });
        const relayed: ChangeMessage = { nugate: 'change', seq: msg.seq, event: msg.event, origin: worker.id };
        for (const w of others) w.send(relayed);
        settle(key);
        return;
      }
      if (isAckMessage(msg)) {
        const key = `${msg.origin}:${msg.seq}`;
        waiting.get(key)?.left.delete(worker.id);
        settle(key);
      }
    },
    gone(id) {
      for (const [key, entry] of waiting) {
        if (entry.origin.id === id) waiting.delete(key);
        else if (entry.left.delete(id)) settle(key);
      }
    },
  };
}
