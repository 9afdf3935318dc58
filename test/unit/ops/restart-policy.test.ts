/**
 * When the cluster primary gives up on its workers (issue 8: a cluster that gave up exited 0).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestartPolicy } from '../../../src/ops/restart-policy.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RestartPolicy', () => {
  it('gives up once every worker has failed at start and none is serving', () => {
    const p = new RestartPolicy({ workers: 2, now: clock().now });
    assert.deepEqual(p.died(false), { restart: true });
    const verdict = p.died(false);
    assert.equal(verdict.restart, false);
    assert.match(verdict.restart ? '' : verdict.reason, /every worker exited before it could serve/);
  });

  it('keeps restarting a worker that fails at start while another serves (bounded by the rate limit)', () => {
    const c = clock();
    const p = new RestartPolicy({ workers: 2, maxRestartsPerMinute: 5, now: c.now });
    p.listening();
    for (let i = 0; i < 5; i++) {
      c.advance(1000);
      assert.deepEqual(p.died(false), { restart: true }, `death ${i + 1}`);
    }
    const verdict = p.died(false);
    assert.equal(verdict.restart, false);
    assert.match(verdict.restart ? '' : verdict.reason, /6 times within a minute/);
  });

  it('a worker that starts serving clears the start failures', () => {
    const p = new RestartPolicy({ workers: 2, now: clock().now });
    assert.equal(p.died(false).restart, true);
    p.listening();
    p.listening();
    // Both serving workers die: restarts, not a start failure.
    assert.equal(p.died(true).restart, true);
    assert.equal(p.died(true).restart, true);
    assert.equal(p.died(false).restart, true);
    assert.equal(p.died(false).restart, false, 'no worker serving and two start failures since the last one served');
  });

  it('forgets restarts older than a minute', () => {
    const c = clock();
    const p = new RestartPolicy({ workers: 1, maxRestartsPerMinute: 2, now: c.now });
    p.listening();
    assert.equal(p.died(true).restart, true);
    p.listening();
    assert.equal(p.died(true).restart, true);
    c.advance(60_001);
    p.listening();
    assert.equal(p.died(true).restart, true);
    p.listening();
    assert.equal(p.died(true).restart, true);
    p.listening();
    assert.equal(p.died(true).restart, false);
  });

  it('refuses a bad worker count, naming it', () => {
    assert.throws(() => new RestartPolicy({ workers: 0 }), /opts\.workers.*got 0/);
  });
});
