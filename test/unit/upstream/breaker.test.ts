import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Breaker } from '../../../src/upstream/breaker.ts';

class Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
}

function make(maxFails = 3, failTimeout = 30_000): { b: Breaker; clock: Clock } {
  const clock = new Clock();
  return { b: new Breaker({ maxFails, failTimeout, clock }), clock };
}

describe('Breaker', () => {
  it('stays closed below maxFails and opens at maxFails failures within failTimeout', () => {
    const { b, clock } = make(3);
    b.failure();
    clock.t += 1000;
    b.failure();
    assert.equal(b.state(), 'closed');
    assert.equal(b.allow(), true);
    assert.deepEqual(b.snapshot(), { state: 'closed', failures: 2 });
    b.failure();
    assert.equal(b.state(), 'open');
    assert.equal(b.allow(), false);
    assert.deepEqual(b.snapshot(), { state: 'open', failures: 3, openedAt: clock.t });
  });

  it('forgets failures older than failTimeout', () => {
    const { b, clock } = make(3, 30_000);
    b.failure();
    b.failure();
    clock.t += 30_000;
    b.failure();
    assert.equal(b.state(), 'closed', 'the first two fell out of the window');
    assert.equal(b.snapshot().failures, 1);
  });

  it('resets the count on success', () => {
    const { b } = make(3);
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    assert.equal(b.state(), 'closed');
  });

  it('lets exactly one probe through once failTimeout has passed since opening', () => {
    const { b, clock } = make(2, 10_000);
    b.failure();
    b.failure();
    clock.t += 9_999;
    assert.equal(b.allow(), false);
    assert.equal(b.state(), 'open');
    clock.t += 1;
    assert.equal(b.state(), 'half-open');
    assert.equal(b.allow(), true, 'the probe');
    assert.equal(b.allow(), false, 'only one probe');
    assert.equal(b.allow(), false);
  });

  it('closes on a successful probe', () => {
    const { b, clock } = make(1, 10_000);
    b.failure();
    clock.t += 10_000;
    assert.equal(b.allow(), true);
    b.success();
    assert.equal(b.state(), 'closed');
    assert.deepEqual(b.snapshot(), { state: 'closed', failures: 0 });
    assert.equal(b.allow(), true);
    assert.equal(b.allow(), true);
  });

  it('re-opens for a full failTimeout on a failed probe', () => {
    const { b, clock } = make(1, 10_000);
    b.failure();
    clock.t += 10_000;
    assert.equal(b.allow(), true);
    b.failure();
    assert.equal(b.state(), 'open');
    assert.equal(b.snapshot().openedAt, clock.t);
    clock.t += 9_999;
    assert.equal(b.allow(), false);
    clock.t += 1;
    assert.equal(b.allow(), true, 'a new probe after another failTimeout');
  });

  it('does not extend the open period for late failures of requests sent before it opened', () => {
    const { b, clock } = make(1, 10_000);
    b.failure();
    const openedAt = clock.t;
    clock.t += 5_000;
    b.failure();
    assert.equal(b.snapshot().openedAt, openedAt);
    clock.t += 5_000;
    assert.equal(b.allow(), true);
  });

  it('allows a new probe when the previous one never reported back', () => {
    const { b, clock } = make(1, 10_000);
    b.failure();
    clock.t += 10_000;
    assert.equal(b.allow(), true);
    clock.t += 9_999;
    assert.equal(b.allow(), false);
    clock.t += 1;
    assert.equal(b.allow(), true, 'the lost probe does not wedge the circuit');
  });

  it('rejects nonsense options', () => {
    const clock = new Clock();
    assert.throws(() => new Breaker({ maxFails: 0, failTimeout: 1, clock }), /maxFails/);
    assert.throws(() => new Breaker({ maxFails: 1, failTimeout: -1, clock }), /failTimeout/);
  });
});
