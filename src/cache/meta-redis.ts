/**
 * The Redis metadata store (@keyv/redis), shared by several nugate instances (design.md §8). One connection
 * serves every namespace; keys are `<prefix>:<namespace>::<key>`.
 */
import KeyvRedis, { createClient, defaultReconnectStrategy } from '@keyv/redis';
import { Breaker } from '../upstream/breaker.ts';
import { systemClock, type Clock } from './clock.ts';
import { guardRemote, KeyvMetaStore, keyvFor, type RemoteGuard } from './meta-keyv.ts';
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

/**
 * disableOfflineQueue: while Redis is unreachable, commands fail at once (a cache miss) instead of queueing.
 */
function connectTo(url: string) {
  return createClient({ url, socket: { reconnectStrategy: defaultReconnectStrategy }, disableOfflineQueue: true });
}

export type RedisClient = ReturnType<typeof connectTo>;

/**
 * The store's connection, for what several instances coordinate through besides the metadata (cache/change-bus-redis.ts,
 * cache/shared-totals.ts): same breaker, same time limit, and a command fails at once while Redis is unreachable.
 */
export interface RedisLink {
  readonly client: RedisClient;
  readonly prefix: string;
  run<T>(what: string, op: (client: RedisClient) => Promise<T>): Promise<T>;
}

export function redisStores(url: string, options: RedisStoreOptions = {}): MetaStores {
  // One connection for all namespaces; each adapter prefixes its keys with `<prefix>:<namespace>::`.
  const client = connectTo(url);
  client.on('error', () => undefined); // surfaced per operation; an unhandled 'error' event would kill the process
  const prefix = options.prefix ?? 'nugate';
  // One breaker for the connection: every namespace fails together.
  // Connect now rather than on the first request (other instances' changes arrive through this server), and
  // once: every operation waits for this attempt within its time limit. Not awaited here: a Redis that is down
  // at start means cache misses, not a process that cannot start.
  const firstConnect = client.connect().then(
    () => undefined,
    () => undefined,
  );
  const remote: RemoteGuard = {
    timeoutMs: options.timeoutMs ?? 2000,
    breaker: new Breaker({ maxFails: options.maxFails ?? 3, failTimeout: options.retryAfterMs ?? 10_000, clock: options.clock ?? systemClock }),
    ready: firstConnect,
  };
  const link: RedisLink = {
    client,
    prefix,
    run: (what, op) =>
      guardRemote(remote, what, async () => {
        // Only the first connection is waited for (by the guard); after that, unreachable fails at once.
        if (!client.isReady) throw new Error(`metadata store not connected (${what})`);
        return op(client);
      }),
  };
  return {
    kind: 'redis',
    redis: link,
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
      remote.closed = true;
      // close() waits for queued commands, which never run while reconnecting: destroy() then.
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    },
  };
}
