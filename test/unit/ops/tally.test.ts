/**
 * Tally keeps the counts every request touches in an array and hands them to prom-client when /metrics is read:
 * the exposition must be exactly what counting with prom-client directly gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { Tally } from '../../../src/ops/tally.ts';
import { CACHE_STATES, RESOURCES, STATUS_LABELS, cacheIndex, cacheLabel, resourceIndex, statusIndex, statusLabel } from '../../../src/ops/labels.ts';

describe('Tally', () => {
  it('gives prom-client the same series and values as counting directly, and each count once', async () => {
    const direct = new Registry();
    const viaTally = new Registry();
    const names = ['resource', 'status', 'cache'] as const;
    const plain = new Counter({ name: 'x_total', help: 'x', labelNames: names, registers: [direct] });
    const tally = new Tally([...names], [RESOURCES, STATUS_LABELS, CACHE_STATES]);
    new Counter({
      name: 'x_total',
      help: 'x',
      labelNames: names,
      registers: [viaTally],
      collect() {
        tally.flushInto(this);
      },
    });
    // A deterministic spread of combinations, some repeated, some with n > 1.
    let seed = 7;
    const next = (k: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % k;
    const statuses = [200, 304, 404, 418, 503, 599, 102, 700];
    const states = ['HIT', 'MISS', 'STALE', 'REVALIDATED', '-', 'bogus', null];
    for (let i = 0; i < 500; i++) {
      const resource = RESOURCES[next(RESOURCES.length)] ?? 'other';
      const status = statuses[next(statuses.length)] ?? 200;
      const state = states[next(states.length)] ?? null;
      const n = 1 + next(3);
      plain.inc({ resource, status: statusLabel(status), cache: cacheLabel(state) }, n);
      tally.add(tally.slot(resourceIndex(resource), statusIndex(status), cacheIndex(state)), n);
    }
    const sorted = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('x_total')).sort();
    assert.deepEqual(sorted(await viaTally.metrics()), sorted(await direct.metrics()));
    // A second read adds nothing: what was handed over is not handed over again.
    assert.deepEqual(sorted(await viaTally.metrics()), sorted(await direct.metrics()));
  });

  it('maps every status and cache state to the label its label function gives', () => {
    for (let status = 0; status < 1000; status++) assert.equal(STATUS_LABELS[statusIndex(status)], statusLabel(status));
    assert.equal(statusLabel(404), '404');
    assert.equal(statusLabel(418), '4xx');
    assert.equal(statusLabel(99), 'other');
    for (const s of ['HIT', 'MISS', 'STALE', 'REVALIDATED', '-', 'x', null, undefined]) assert.equal(CACHE_STATES[cacheIndex(s)], cacheLabel(s));
  });

  it('refuses more than three labels or a value set per name missing', () => {
    assert.throws(() => new Tally(['a', 'b'], [['x']]));
    assert.throws(() => new Tally(['a', 'b', 'c', 'd'], [['x'], ['x'], ['x'], ['x']]));
  });
});
