/**
 * Runs the app on @hono/node-server, over HTTPS when `listen.tls` names a certificate and key, and shuts it down
 * cleanly: stop accepting, let in-flight requests finish (bounded), then close upstream pools and the cache.
 */
import { serve, type ServerType } from '@hono/node-server';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { Config } from './config/schema.ts';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NugateApp } from './app.ts';

export interface Running {
  url: string;
  server: ServerType;
  stop(graceMs?: number): Promise<void>;
}

/** The certificate, key and chain of `listen.tls`, read once at start (a restart picks up renewed files). */
export async function readTlsFiles(tls: NonNullable<Config['listen']['tls']>): Promise<HttpsOptions> {
  const [cert, key, ca] = await Promise.all([readFile(tls.cert), readFile(tls.key), tls.ca === undefined ? undefined : readFile(tls.ca)]);
  // The chain goes out after the certificate, so clients that know only the root can build the path.
  return { cert: ca === undefined ? cert : Buffer.concat([cert, Buffer.from('\n'), ca]), key };
}

export async function listen(nugate: NugateApp, host: string, port: number): Promise<Running> {
  const tlsFiles = nugate.services.config.listen.tls;
  const tls = tlsFiles === undefined ? undefined : await readTlsFiles(tlsFiles);
  return new Promise((resolve, reject) => {
    const https = tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls };
    const server = serve({ fetch: nugate.app.fetch, hostname: host, port, ...https }, (info: AddressInfo) => {
      const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const url = `${tls === undefined ? 'http' : 'https'}://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${info.port}`;
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
