/**
 * How a publish, delete or relist through one process reaches every other process that serves the same cache
 * (issue 10): the process that made the change tells the others, each drops what it holds in memory about the id
 * (hot tier, rendered responses, in-flight loads) and deletes the id's shared entries once more (so an answer
 * that another process loaded before the change and wrote after it cannot survive), then acknowledges. The
 * publisher waits for those acknowledgements, bounded, before it answers its client: the next request, through
 * any process, sees the new state. Hits never pay for this: no shared-store round trip per request.
 *
 * Transports: Redis pub/sub when the metadata store is Redis (change-bus-redis.ts; every process of every host
 * subscribes), node:cluster IPC relayed by the primary between the workers of one host (here, and cluster.ts),
 * nothing for a single process.
 */
import cluster from 'node:cluster';
import type { Logger } from 'pino';

/** `id`: forget everything about a package id. `resync`: this process may have missed events; drop all memory. */
export type ChangeEvent = { type: 'id'; id: string } | { type: 'resync' };

export type ChangeHandler = (event: ChangeEvent) => Promise<void>;

export interface ChangeBus {
  readonly kind: 'local' | 'cluster' | 'redis';
  /**
   * Tells every other process. Resolves once they all applied it, or after `ackTimeoutMs` (a process that does
   * not answer in time is slow or gone; the change itself is already made in the shared store), never rejects.
   */
  publish(event: ChangeEvent): Promise<void>;
  /** Adds a handler for events from other processes (and `resync`, raised locally). */
  onChange(handler: ChangeHandler): void;
  close(): Promise<void>;
}

/** How long a publisher waits for the other processes to apply a change. */
export const ACK_TIMEOUT_MS = 1500;

/** The handlers of one bus: run in order; a failing one is logged and the rest still run. */
export class ChangeHandlers {
  private readonly handlers: ChangeHandler[] = [];

  constructor(private readonly log: Logger) {}

  add(handler: ChangeHandler): void {
    this.handlers.push(handler);
  }

  async apply(event: ChangeEvent): Promise<void> {
    for (const h of this.handlers) {
      try {
        await h(event);
      } catch (err) {
        this.log.warn({ err, event }, 'applying a change from another process failed');
      }
    }
  }
}

/** One process alone: nobody to tell. */
export function localBus(log: Logger): ChangeBus {
  const handlers = new ChangeHandlers(log);
  return {
    kind: 'local',
    publish: async () => undefined,
    onChange: (h) => handlers.add(h),
    close: async () => undefined,
  };
}

// --- node:cluster IPC ------------------------------------------------------------------------------------

/** Worker → primary: relay this change. Primary → worker: apply this change (from another worker). */
export interface ChangeMessage {
  nugate: 'change';
  seq: number;
  event: ChangeEvent;
  /** Set by the primary when relaying: the worker id of the publisher. */
  origin?: number;
}
/** Worker → primary: applied. */
export interface AckMessage {
  nugate: 'ack';
  seq: number;
  origin: number;
}
/** Primary → publishing worker: every other worker applied (or is gone). */
export interface DoneMessage {
  nugate: 'done';
  seq: number;
}

function isEvent(v: unknown): v is ChangeEvent {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (e.type === 'id' && typeof e.id === 'string') || e.type === 'resync';
}

export function isChangeMessage(v: unknown): v is ChangeMessage {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>).nugate === 'change' && typeof (v as Record<string, unknown>).seq === 'number' && isEvent((v as Record<string, unknown>).event);
}

export function isAckMessage(v: unknown): v is AckMessage {
  const m = v as Record<string, unknown> | null;
  return typeof v === 'object' && m !== null && m.nugate === 'ack' && typeof m.seq === 'number' && typeof m.origin === 'number';
}

function isDoneMessage(v: unknown): v is DoneMessage {
  const m = v as Record<string, unknown> | null;
  return typeof v === 'object' && m !== null && m.nugate === 'done' && typeof m.seq === 'number';
}

/** A worker's end of the IPC relay (the primary's end is in cluster.ts). */
export function clusterBus(log: Logger, ackTimeoutMs = ACK_TIMEOUT_MS): ChangeBus {
  const handlers = new ChangeHandlers(log);
  const pending = new Map<number, () => void>();
  let seq = 0;
  const onMessage = (msg: unknown): void => {
    if (isDoneMessage(msg)) {
      pending.get(msg.seq)?.();
      return;
    }
    if (!isChangeMessage(msg) || msg.origin === undefined) return;
    const origin = msg.origin;
    void handlers.apply(msg.event).finally(() => {
      const ack: AckMessage = { nugate: 'ack', seq: msg.seq, origin };
      if (process.connected) process.send?.(ack);
    });
  };
  process.on('message', onMessage);
  return {
    kind: 'cluster',
    publish(event) {
      if (!process.connected || process.send === undefined) return Promise.resolve();
      const mine = ++seq;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => finish(true), ackTimeoutMs);
        const finish = (late: boolean): void => {
          clearTimeout(timer);
          pending.delete(mine);
          if (late) log.warn({ event, timeoutMs: ackTimeoutMs }, 'other workers did not confirm a change in time');
          resolve();
        };
        pending.set(mine, () => finish(false));
        const message: ChangeMessage = { nugate: 'change', seq: mine, event };
        process.send?.(message);
      });
    },
    onChange: (h) => handlers.add(h),
    async close() {
      process.off('message', onMessage);
      for (const done of [...pending.values()]) done();
    },
  };
}

/** The bus for this process when the store is not Redis: IPC between the workers of a cluster, else none. */
export function processBus(log: Logger): ChangeBus {
  return cluster.isWorker ? clusterBus(log) : localBus(log);
}
