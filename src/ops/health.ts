/**
 * GET /health: 200 once nugate is serving, with each upstream's breaker state so an operator (or a load balancer
 * that reads the body) can see which upstream is failing.
 */
import { Hono } from 'hono';
import type { Services } from '../services.ts';
import type { Env } from '../http/respond.ts';

export function healthRoutes(s: Services): Hono<Env> {
  const app = new Hono<Env>();
  app.get('/', (c) =>
    c.json(
      {
        status: 'ok',
        // Which worker answered, when running several (config `workers`).
        pid: process.pid,
        offline: s.config.offline,
        upstreams: s.sources.map((u) => ({ name: u.name, state: u.health() })),
      },
      200,
      { 'cache-control': 'no-store' },
    ),
  );
  return app;
}
