/**
 * MetaStore over one keyv instance: typed values (checked on the way back in), an optional guard for remote
 * stores, and listing even where keyv itself cannot iterate (our file store).
 */
import { Keyv } from 'keyv';
import type { Breaker } from '../upstream/breaker.ts';
import type { MetaStore } from './meta.ts';
import { isObject } from './records.ts';

export type RawIterator = () => AsyncIterable<[string, unknown]>;

function rejectAfter(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`metadata store: ${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * How a remote store is kept from slowing requests down (design.md §4: nugate never hangs): each operation
 * has a time limit, and a breaker skips the store for a while after repeated failures, so a Redis outage
 * costs a few timeouts and then plain cache misses.
 */
export interface RemoteGuard {
  timeoutMs: number;
  breaker: Breaker;
  /** Resolves once the first connection attempt is over; operations wait for it (within their time limit). */
  ready?: Promise<void>;
  /** Set by close(): every operation fails from then on. */
  closed?: boolean;
}

/** Runs one remote operation under the guard: skipped while the breaker is open, failed after the time limit. */
export async function guardRemote<T>(remote: RemoteGuard, what: string, op: () => Promise<T>): Promise<T> {
  if (remote.closed === true) throw new Error(`metadata store closed (${what})`);
  if (!remote.breaker.allow()) throw new Error(`metadata store unavailable (${what} skipped after repeated failures)`);
  const t = rejectAfter(remote.timeoutMs, what);
  let over = false;
  // An operation waiting for the first connection must not start after its caller gave up, or after close():
  // the client would open a new connection nobody closes.
  const started = (): Promise<T> => (over || remote.closed === true ? Promise.reject(new Error(`metadata store: ${what} abandoned`)) : op());
  try {
    const result = await Promise.race([remote.ready === undefined ? op() : remote.ready.then(started), t.promise]);
    remote.breaker.success();
    return result;
  } catch (err) {
    remote.breaker.failure();
    throw err;
  } finally {
    over = true;
    t.cancel();
  }
}

/** Wraps one keyv instance: typed values, the remote guard, iteration even where keyv has none. */
export class KeyvMetaStore<V> implements MetaStore<V> {
  constructor(
    private readonly keyv: Keyv<unknown>,
    private readonly isValue: (v: unknown) => v is V,
    /** For adapters keyv does not iterate itself (ours): yields [key, serialized], and keys alone. */
    private readonly raw: { entries: RawIterator; keys: () => AsyncIterable<string> } | undefined,
    private readonly remote: RemoteGuard | undefined,
  ) {}

  private guard<T>(what: string, op: () => Promise<T>): Promise<T> {
    return this.remote === undefined ? op() : guardRemote(this.remote, what, op);
  }

  /** Iterates with the guard on every step, so a listing cannot hang either. */
  private async *guarded<T>(source: AsyncIterable<T>): AsyncGenerator<T, void> {
    if (this.remote === undefined) {
      yield* source;
      return;
    }
    const it = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const step = await this.guard('list', () => it.next());
        if (step.done === true) {
          finished = true;
          return;
        }
        yield step.value;
      }
    } finally {
      // Do not wait for a source that may be stuck.
      if (!finished) void it.return?.()?.catch(() => undefined);
    }
  }

  async get(key: string): Promise<V | undefined> {
    const value = await this.guard('get', () => this.keyv.get(key));
    // Anything else (a torn write, another program's key in a shared Redis) reads as a miss.
    return this.isValue(value) ? value : undefined;
  }

  async set(key: string, value: V): Promise<void> {
    await this.guard('set', () => this.keyv.set(key, value));
  }

  async delete(key: string): Promise<boolean> {
    return this.guard('delete', () => this.keyv.delete(key));
  }

  async clear(): Promise<void> {
    await this.guard('clear', () => this.keyv.clear());
  }

  async *entries(): AsyncGenerator<[string, V], void> {
    const deserialize = this.keyv.deserialize;
    if (this.raw !== undefined && deserialize !== undefined) {
      // Our own walk rather than keyv's iterator, which throws on a key deleted between SCAN and MGET.
      for await (const [key, raw] of this.guarded(this.raw.entries())) {
        if (typeof raw !== 'string') continue;
        const data: unknown = await deserialize(raw);
        if (!isObject(data)) continue;
        const value: unknown = data.value;
        if (this.isValue(value)) yield [key, value];
      }
      return;
    }
    const own = this.keyv.iterator;
    if (own === undefined) throw new Error('metadata store cannot list its entries');
    for await (const row of this.guarded<unknown>(own(undefined))) {
      if (!Array.isArray(row)) continue;
      const [key, value]: unknown[] = row;
      if (typeof key === 'string' && this.isValue(value)) yield [key, value];
    }
  }

  async *keys(): AsyncGenerator<string, void> {
    if (this.raw !== undefined) {
      yield* this.guarded(this.raw.keys());
      return;
    }
    for await (const [key] of this.entries()) yield key;
  }

  async close(): Promise<void> {
    // Stores are shared between namespaces; MetaStores.close releases them.
  }
}

export function keyvFor(store: object, namespace: string | undefined): Keyv<unknown> {
  // useKeyPrefix:false: each namespace has its own store (file, Map) or the adapter prefixes keys (Redis),
  // so keys reach the store unchanged and iteration yields them unchanged.
  const keyv = new Keyv<unknown>(store, { namespace, useKeyPrefix: false, throwOnErrors: true });
  // Errors are thrown to the caller (throwOnErrors); keyv still emits them, and nothing needs the event.
  keyv.on('error', () => undefined);
  return keyv;
}
