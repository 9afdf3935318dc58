/**
 * Runs the app on @hono/node-server and shuts it down cleanly: stop accepting, let in-flight requests finish
 * (bounded), then close upstream pools and the cache.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NugateApp } from './app.ts';

export interface Running {
  url: string;
  server: ServerType;
  stop(graceMs?: number): Promise<void>;
}

export function listen(nugate: NugateApp, host: string, port: number): Promise<Running> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: nugate.app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const url = `http://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${info.port}`;
      resolve({
        url,
        server,
        async stop(graceMs = 10_000) {
          await new Promise<void>((done) => {
            const timer = setTimeout(() => {
              if ('closeAllConnections' in server) server.closeAllConnections();
              done();
            }, graceMs);
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          });
          await nugate.close();
        },
      });
    });
    // Held answers are written before Hono sees the request (http/fast-hit.ts); everything else goes on as before.
    const [handler] = server.listeners('request');
    if (handler !== undefined) {
      server.removeAllListeners('request');
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        if (!nugate.fastHit(req, res)) (handler as (req: IncomingMessage, res: ServerResponse) => void)(req, res);
      });
    }
    server.once('error', reject);
    if ('keepAliveTimeout' in server) {
      // Longer than typical load balancer idle timeouts, so they never reuse a socket we are closing.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      // Node's 5-minute default would cut off a slow 250 MB push; bodies still have the socket idle timeout.
      server.requestTimeout = 30 * 60_000;
    }
  });
}
