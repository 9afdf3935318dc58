/**
 * Measures what one hot-tier entry costs in memory, to keep HOT_ENTRY_OVERHEAD (src/cache/hot.ts) honest.
 * Not a test (no assertions, machine-dependent): run it by hand after changing what the hot tier keeps.
 *
 *   node --expose-gc --import tsx test/unit/cache/measure-hot-overhead.ts
 *
 * Node 20.20 / x64, 200k not-found documents with 35-character keys: about 340-360 B of heap and 360-500 B
 * of RSS per entry (charged: 512 B + key).
 */
import { createHotTier, hotCost } from '../../../src/cache/hot.ts';
import type { HotValue } from '../../../src/cache/records.ts';

const N = 200_000;

function gc(): void {
  const collect: unknown = Reflect.get(globalThis, 'gc');
  if (typeof collect === 'function') {
    collect();
    collect();
  }
}

function measure(label: string, make: (i: number) => [string, HotValue]): void {
  gc();
  const before = process.memoryUsage();
  const hot = createHotTier<HotValue>({ maxSize: 2 ** 40, maxEntrySize: 2 ** 30 });
  let charged = 0;
  for (let i = 0; i < N; i++) {
    const [key, value] = make(i);
    const cost = hotCost(key, 0);
    charged += cost;
    hot.set(key, value, cost);
  }
  gc();
  const after = process.memoryUsage();
  const perEntry = (n: number): string => (n / N).toFixed(0);
  console.log(`${label}: heap ${perEntry(after.heapUsed - before.heapUsed)} B, rss ${perEntry(after.rss - before.rss)} B, charged ${perEntry(charged)} B per entry (${hot.size} entries)`);
}

measure('404 document', (i) => [
  `d:flat:nuget.org:some.package.id${i}`,
  { type: 'doc', record: { kind: 'metadata', doc: { status: 404, body: '', validators: {}, storedAt: Date.now(), upstream: 'nuget.org' } } },
]);
