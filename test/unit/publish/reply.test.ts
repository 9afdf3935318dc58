import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reasonPhrase } from '../../../src/publish/reply.ts';
import { scrub } from '../../../src/publish/relay.ts';

describe('reasonPhrase', () => {
  it('keeps a plain phrase', () => {
    assert.equal(reasonPhrase('Package too large'), 'Package too large');
  });
  it('removes line breaks and non-ASCII so Node accepts it', () => {
    assert.equal(reasonPhrase('bad\r\nX-Injected: 1'), 'bad X-Injected: 1');
    assert.equal(reasonPhrase('Paket ungültig'), 'Paket ung?ltig');
  });
  it('caps the length and never returns an empty phrase', () => {
    assert.equal(reasonPhrase('x'.repeat(1000)).length, 200);
    assert.equal(reasonPhrase('  \r\n '), 'Error');
  });
});

describe('scrub', () => {
  it('replaces every occurrence of each secret', () => {
    assert.equal(scrub('key abcd1234 was abcd1234', ['abcd1234', undefined]), 'key [redacted] was [redacted]');
  });
});
