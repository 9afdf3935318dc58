/** log.format "pretty" (src/ops/pretty.ts): one readable line per record, fields as key=value, stacks below. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prettyLine } from '../../../src/ops/pretty.ts';

test('a record becomes time, level, message and key=value fields', () => {
  const line = prettyLine(JSON.stringify({ level: 30, time: Date.parse('2026-01-02T03:04:05.678Z'), pid: 1, app: 'nugate', msg: 'request', method: 'GET', path: '/v3/index.json', ua: 'NuGet xplat/6.12', upstream: [{ name: 'a', status: 200 }] }));
  assert.equal(line, '03:04:05.678 INFO  request method=GET path=/v3/index.json ua="NuGet xplat/6.12" upstream=[{"name":"a","status":200}]');
});

test('an error shows its message, then its stack on the lines below; a non-JSON line passes through', () => {
  const line = prettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { type: 'Error', message: 'bad thing', stack: 'Error: bad thing\n    at x' } }));
  assert.equal(line, '00:00:00.000 ERROR boom err="bad thing"\nError: bad thing\n    at x');
  assert.equal(prettyLine('not json\n'), 'not json');
});
