/**
 * The access line is formatted by ops/access-log.ts rather than by pino (the cost of a cached answer): it must be the
 * line pino would have written, JSON whatever a client puts in a path or user agent, written at the logger's level
 * only, and scrubbed of the secrets the logger knows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { accessLine, createAccessLog, type RequestLogFields } from '../../../src/ops/access-log.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { createMetrics } from '../../../src/ops/metrics.ts';

function sink(): { stream: Writable; lines: () => string[] } {
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  return { stream, lines: () => out.split('\n').filter((l) => l !== '') };
}

const FULL: RequestLogFields = {
  id: 'req-1',
  method: 'GET',
  path: '/v3/flatcontainer/a"b\\c\u2028/index.json',
  status: 200,
  cache: 'HIT',
  ms: 3,
  session: '6a2c3a80-5f0e-4c55-8d55-7c2a3f1e9b01',
  resource: 'flatcontainer',
  ua: 'NuGet xplat/6.14 (quote " and backslash \\)',
  upstream: [{ name: 'nuget.org', status: 200, ms: 41 }],
  bytes: 512,
};

describe('accessLine', () => {
  it('writes what pino writes for the same record', () => {
    const out = sink();
    const log = pino({ level: 'info', base: { app: 'nugate' }, timestamp: () => ',"time":1234' }, out.stream);
    for (const fields of [FULL, { method: 'HEAD', path: '/v3/index.json', status: 304, cache: '-', ms: 0 }]) {
      log.info(fields, 'request');
      const ours = accessLine(30, 1234, fields);
      assert.ok(ours.endsWith('}\n'));
      assert.deepEqual(JSON.parse(ours), JSON.parse(out.lines().at(-1) ?? ''));
    }
  });

  it('is written at the logger level only, with the known secrets scrubbed', async () => {
    const secret = 'upstream-token-123456';
    const out = sink();
    const access = createAccessLog(createMetrics([]), createLogger('info', out.stream, { secrets: [secret] }));
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = `/v3/flatcontainer/${secret}/index.json`;
    access.answered(req, 200, 'HIT', performance.now(), 'id-1');
    // Access lines of one event-loop turn are written together at its end.
    assert.deepEqual(out.lines(), []);
    await new Promise((resolve) => setImmediate(resolve));
    const [line] = out.lines();
    assert.ok(line !== undefined && !line.includes(secret), line);
    assert.equal((JSON.parse(line) as { path: string }).path, '/v3/flatcontainer/[redacted]/index.json');

    const quiet = sink();
    const warnOnly = createAccessLog(createMetrics([]), createLogger('warn', quiet.stream));
    warnOnly.answered(req, 200, 'HIT', performance.now(), 'id-2');
    warnOnly.answered(req, 503, '-', performance.now(), 'id-3');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(quiet.lines().map((l) => (JSON.parse(l) as { level: number; id: string }).id), ['id-3'], 'a 5xx is a warning; a 200 is info, below warn');
  });
});

describe('access lines written in batches', () => {
  function counting(): { stream: Writable; writes: string[] } {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString('utf8'));
        cb();
      },
    });
    return { stream, writes };
  }
  const request = (path: string): IncomingMessage => {
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = path;
    return req;
  };

  it('writes the lines of one event-loop turn in one write, in order, after a line pino writes first', async () => {
    const out = counting();
    const log = createLogger('info', out.stream);
    const access = createAccessLog(createMetrics([]), log);
    for (let i = 0; i < 5; i++) access.answered(request(`/v3/a${i}`), 200, 'HIT', performance.now(), `id-${i}`);
    // A line of pino's own sends what was gathered before it.
    log.warn('between');
    access.answered(request('/v3/after'), 200, 'HIT', performance.now(), 'id-5');
    assert.equal(out.writes.length, 2, 'the five gathered lines, then the warning');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(out.writes.length, 3);
    const ids = out.writes.join('').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id?: string; msg: string }).id ?? (JSON.parse(l) as { msg: string }).msg);
    assert.deepEqual(ids, ['id-0', 'id-1', 'id-2', 'id-3', 'id-4', 'between', 'id-5']);
  });

  it('writes at once when a turn gathers 64 KB', async () => {
    const out = counting();
    const access = createAccessLog(createMetrics([]), createLogger('info', out.stream));
    const long = `/v3/${'p'.repeat(400)}`;
    let n = 0;
    while (out.writes.length === 0 && n < 1_000) access.answered(request(long), 200, 'HIT', performance.now(), `id-${n++}`);
    assert.equal(out.writes.length, 1, 'written within the turn');
    assert.ok(out.writes[0] !== undefined && out.writes[0].length >= 64 * 1024 && out.writes[0].length < 66 * 1024, `${out.writes[0]?.length}`);
    await new Promise((resolve) => setImmediate(resolve));
    const total = out.writes.join('').split('\n').filter((l) => l !== '').length;
    assert.equal(total, n, 'every line, once');
  });
});
