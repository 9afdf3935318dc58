/**
 * A forward proxy on 127.0.0.1:0 that only tunnels (CONNECT), like a corporate proxy in front of HTTPS. It
 * records every CONNECT (target, Proxy-Authorization) and the local port of every socket it opened to a target,
 * so a test can prove that an upstream request came through it (the upstream sees that port as its peer).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ConnectRecord {
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ConnectProxy {
  /** http://127.0.0.1:port (no credentials). */
  url: string;
  port: number;
  connects: ConnectRecord[];
  /** Local ports of the sockets opened to targets. */
  outboundPorts: Set<number>;
  close(): Promise<void>;
}

/** `requireAuth`: the exact Proxy-Authorization value to demand (407 otherwise). */
export async function startConnectProxy(opts: { requireAuth?: string } = {}): Promise<ConnectProxy> {
  const connects: ConnectRecord[] = [];
  const outboundPorts = new Set<number>();
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    res.writeHead(405, { connection: 'close' });
    res.end('this proxy only tunnels (CONNECT)');
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const auth = req.headers['proxy-authorization'];
    connects.push({ target: req.url ?? '', proxyAuthorization: auth });
    if (opts.requireAuth !== undefined && auth !== opts.requireAuth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const m = /^(.+):(\d+)$/.exec(req.url ?? '');
    if (!m) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const upstream = connect(Number(m[2]), (m[1] ?? '').replace(/^\[(.*)\]$/, '$1'), () => {
      if (upstream.localPort !== undefined) outboundPorts.add(upstream.localPort);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    outboundPorts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
