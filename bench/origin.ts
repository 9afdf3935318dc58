/**
 * The benchmark's upstream: a small node:http server with a nuget-shaped feed (bench/lib/feed.ts), every body
 * prepared once as a Buffer. Started by bench/run.ts as its own process:
 *
 *   node --import tsx bench/origin.ts --nupkg FILE
 *
 * Prints one JSON line `{"msg":"origin listening","url":...}` when ready. `GET /__stats` answers how many
 * requests it served so far, by path prefix (not counted itself), so the bench can prove that a "miss" went
 * upstream and a "hit" did not.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { LOWER_ID, NUPKG_VERSION, flatIndex, registrationIndex, searchAnswer, serviceIndex } from './lib/feed.ts';

const { values } = parseArgs({ options: { nupkg: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } });
if (values.nupkg === undefined) {
  process.stderr.write('usage: origin.ts --nupkg FILE\n');
  process.exit(2);
}
const nupkg = readFileSync(values.nupkg);

interface Body {
  data: Buffer;
  type: string;
}
const json = (value: unknown): Body => ({ data: Buffer.from(JSON.stringify(value), 'utf8'), type: 'application/json; charset=utf-8' });

const counts: Record<string, number> = { total: 0 };
let routes = new Map<string, Body>();
let search: Body = json({});

function send(req: IncomingMessage, res: ServerResponse, status: number, body: Body): void {
  res.writeHead(status, { 'content-type': body.type, 'content-length': String(body.data.length) });
  res.end(req.method === 'HEAD' ? undefined : body.data);
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/__stats') {
    send(req, res, 200, json(counts));
    return;
  }
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  counts.total = (counts.total ?? 0) + 1;
  const prefix = path.split('/')[1] ?? '';
  counts[prefix] = (counts[prefix] ?? 0) + 1;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, 405, json({ error: 'method not allowed' }));
    return;
  }
  if (path === '/query') {
    send(req, res, 200, search);
    return;
  }
  const body = routes.get(path);
  if (body === undefined) send(req, res, 404, { data: Buffer.from('not found'), type: 'text/plain' });
  else send(req, res, 200, body);
});
server.keepAliveTimeout = 65_000;

server.listen(0, values.host, () => {
  const { port } = server.address() as AddressInfo;
  const origin = `http://${values.host}:${port}`;
  routes = new Map<string, Body>([
    ['/v3/index.json', json(serviceIndex(origin))],
    [`/flat/${LOWER_ID}/index.json`, json(flatIndex())],
    [`/flat/${LOWER_ID}/${NUPKG_VERSION}/${LOWER_ID}.${NUPKG_VERSION}.nupkg`, { data: nupkg, type: 'application/octet-stream' }],
    [`/reg/${LOWER_ID}/index.json`, json(registrationIndex(origin))],
  ]);
  search = json(searchAnswer(origin));
  process.stdout.write(`${JSON.stringify({ msg: 'origin listening', url: origin })}\n`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
