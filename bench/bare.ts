/**
 * The reference server: bare node:http serving the two bodies from memory, nothing else (no routing
 * framework, no cache lookups, no logging). What any Node server can at best do on this machine.
 *
 *   node --import tsx bench/bare.ts --nupkg FILE
 *
 * GET /json is the 2 KB registration index (with this server's own URLs), GET /nupkg the 300 KB package.
 * Prints `{"msg":"bare listening","url":...}` when ready.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { registrationIndex } from './lib/feed.ts';

const { values } = parseArgs({ options: { nupkg: { type: 'string' } } });
if (values.nupkg === undefined) {
  process.stderr.write('usage: bare.ts --nupkg FILE\n');
  process.exit(2);
}
const nupkg = readFileSync(values.nupkg);
let json = Buffer.alloc(0);

const server = createServer((req, res) => {
  if (req.url === '/json') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(json.length) });
    res.end(json);
  } else if (req.url === '/nupkg') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(nupkg.length) });
    res.end(nupkg);
  } else {
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  }
});
server.keepAliveTimeout = 65_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  json = Buffer.from(JSON.stringify(registrationIndex(url)), 'utf8');
  process.stdout.write(`${JSON.stringify({ msg: 'bare listening', url })}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
