/**
 * No credential reaches a log line (issue 8): errors are reduced to their safe fields, header-shaped fields are
 * redacted, and the secret values nugate holds are replaced wherever they appear.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, serializeError } from '../../../src/ops/logger.ts';
import { secretValues } from '../../../src/ops/secrets.ts';
import { parseConfig } from '../../../src/config/load.ts';

function capture(secrets: string[] = []): { log: ReturnType<typeof createLogger>; text: () => string } {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  return { log: createLogger('debug', sink, { secrets }), text: () => out };
}

describe('serializeError', () => {
  it('keeps type, code, message, stack and cause, and drops every other field', () => {
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', socket: { remoteAddress: '10.0.0.1' } });
    const err = Object.assign(new Error('upstream failed', { cause }), { code: 'UND_ERR', headers: { authorization: 'Bearer t0ken-value' }, body: 'secret body', options: { headers: ['x-nuget-apikey', 'k'] } });
    const out = serializeError(err);
    assert.equal(typeof out, 'object');
    const text = JSON.stringify(out);
    for (const leak of ['t0ken-value', 'secret body', 'x-nuget-apikey', '10.0.0.1']) assert.ok(!text.includes(leak), `${leak} in ${text}`);
    assert.match(text, /"type":"Error"/);
    assert.match(text, /"code":"UND_ERR"/);
    assert.match(text, /"message":"upstream failed"/);
    assert.match(text, /"cause":\{"type":"Error","message":"socket hang up","code":"ECONNRESET"/);
  });

  it('prints a non-error object by its kind only, a string as is', () => {
    assert.equal(serializeError({ authorization: 'x' }), '[object Object]');
    assert.equal(serializeError('plain message'), 'plain message');
  });

  it('stops following causes after a few levels', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    a.cause = a;
    assert.ok(JSON.stringify(serializeError(a)).length < 20_000);
  });
});

describe('createLogger', () => {
  it('applies the error serializer to err fields', () => {
    const { log, text } = capture();
    log.error({ err: Object.assign(new Error('boom'), { headers: { 'x-nuget-apikey': 'k3y-k3y-k3y' } }) }, 'failed');
    assert.ok(!text().includes('k3y-k3y-k3y'), text());
    assert.match(text(), /"message":"boom"/);
  });

  it('redacts header-shaped fields one level down', () => {
    const { log, text } = capture();
    log.info({ upstream: { headers: { authorization: 'Basic c2VjcmV0', 'x-nuget-apikey': 'apikey-apikey' } } }, 'x');
    assert.ok(!text().includes('c2VjcmV0') && !text().includes('apikey-apikey'), text());
  });

  it('replaces known secret values anywhere in a line, even inside a message or an escaped string', () => {
    const secret = 'tok"en-with-quote-123';
    const { log, text } = capture([secret, 'short']);
    log.warn({ err: new Error(`request to https://feed.example/?token=${secret} failed`), note: `value ${secret}` }, `saw ${secret}`);
    const line = text();
    assert.ok(!line.includes('tok"en-with-quote-123') && !line.includes('tok\\"en-with-quote-123'), line);
    assert.match(line, /\[redacted\]/);
    assert.doesNotThrow(() => JSON.parse(line), 'the line is still JSON');
    // Values too short to be credentials are left alone (they would garble ordinary words).
    log.info('a short word');
    assert.match(text(), /a short word/);
  });
});

describe('secretValues', () => {
  it('collects the upstream credentials the config names, from the environment, and the Basic header form', () => {
    const config = parseConfig({
      upstreams: [
        { name: 'a', url: 'https://a.example/v3/index.json', auth: { type: 'basic', usernameEnv: 'A_USER', passwordEnv: 'A_PASS' } },
        { name: 'b', url: 'https://b.example/v3/index.json', auth: { type: 'bearer', tokenEnv: 'B_TOKEN' }, headers: { 'X-Tenant': { env: 'B_TENANT' } }, apiKeyEnv: 'B_PUSH' },
        { name: 'c', url: 'https://c.example/v3/index.json', auth: { type: 'apiKey', tokenEnv: 'C_KEY' } },
      ],
    });
    const env = { A_USER: 'alice', A_PASS: 'pa55word!', B_TOKEN: 'bearer-tok', B_TENANT: 'tenant-x', B_PUSH: 'push-key', C_KEY: '' };
    const values = secretValues(config, env);
    assert.deepEqual(new Set(values), new Set(['pa55word!', 'bearer-tok', 'tenant-x', 'push-key', Buffer.from('alice:pa55word!').toString('base64')]));
  });
});
