/**
 * The Redis metadata store (@keyv/redis), shared by several nugate instances (design.md §8). One connection
 * serves every namespace; keys are `<prefix>:<namespace>::<key>`.
 */
import KeyvRedis, { createClient, defaultReconnectStrategy } from '@keyv/redis';
import { Breaker } from '../upstream/breaker.ts';
import { systemClock, type Clock } from './clock.ts';
import { KeyvMetaStore, keyvFor, type RemoteGuard } from './meta-keyv.ts';
import type { MetaNamespace, MetaStore, MetaStores } from './meta.ts';

export interface RedisStoreOptions {
  /** Prefix for every key, so several nugate caches (or other programs) can share one Redis. */
  prefix?: string;
  /** Per-operation time limit; a Redis that stops answering turns into cache misses, not hung requests. */
  timeoutMs?: number;
  /** After this many failures within `retryAfterMs`, skip Redis for `retryAfterMs` (default 3, 10 s). */
  maxFails?: number;
  retryAfterMs?: number;
  clock?: Clock;
}

export function redisStores(url: string, options: RedisStoreOptions = {}): MetaStores {
  // One connection for all namespaces; each adapter prefixes its keys with `<prefix>:<namespace>::`.
  // disableOfflineQueue: while Redis is unreachable, commands fail at once (a cache miss) instead of queueing.
  const client = createClient({ url, socket: { reconnectStrategy: defaultReconnectStrategy }, disableOfflineQueue: true });
  client.on('error', () => undefined); // surfaced per operation; an unhandled 'error' event would kill the process
  const prefix = options.prefix ?? 'nugate';
  // One breaker for the connection: every namespace fails together.
  const remote: RemoteGuard = {
    timeoutMs: options.timeoutMs ?? 2000,
    breaker: new Breaker({ maxFails: options.maxFails ?? 3, failTimeout: options.retryAfterMs ?? 10_000, clock: options.clock ?? systemClock }),
  };
  return {
    kind: 'redis',
    open<V>(namespace: MetaNamespace, isValue: (v: unknown) => v is V): MetaStore<V> {
      const ns = `${prefix}:${namespace}`;
      const adapter = new KeyvRedis<unknown>(client, { namespace: ns });
      const raw = {
        entries: () => adapter.iterator(ns),
        keys: async function* (): AsyncGenerator<string, void> {
          for await (const [key] of adapter.iterator(ns)) yield key;
        },
      };
      return new KeyvMetaStore(keyvFor(adapter, ns), isValue, raw, remote);
    },
    sweep: async () => 0,
    async close() {
      // close() waits for queued commands, which never run while reconnecting: destroy() then.
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    },
  };
}
