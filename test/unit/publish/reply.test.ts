import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reasonPhrase } from '../../../src/publish/reply.ts';
import { scrub, withoutAddresses } from '../../../src/publish/scrub.ts';

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

describe('withoutAddresses', () => {
  it('names the upstream instead of its URLs, hosts and addresses', () => {
    const text = 'Push to https://feed.corp.example:8443/api/v2/package/ failed; try feed.corp.example or FEED.corp.example:8443, 10.1.2.3:443, [fd00::1]:80';
    const out = withoutAddresses(text, 'internal', ['feed.corp.example']);
    assert.doesNotMatch(out, /corp\.example|10\.1\.2\.3|fd00/i);
    assert.match(out, /\[upstream "internal"\]/);
  });
  it('keeps four-part versions and ids that merely contain the host name', () => {
    assert.equal(withoutAddresses("version '1.2.3.4' of 'Feed.Corp.Tools' exists", 'internal', ['corp']), "version '1.2.3.4' of 'Feed.Corp.Tools' exists");
  });
});
