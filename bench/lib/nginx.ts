/**
 * nginx as an ops team would put it in front of a NuGet feed instead of nugate: proxy_cache (with lock,
 * long validity, use-stale, background update) plus sub_filter rewriting the upstream origin into the public
 * one. Configured entirely here, in a temp prefix (own nginx.conf, pid, logs, cache), one worker, foreground, an
 * access line per request to a file (as nugate writes one).
 *
 * Locations (same paths as the origin):
 * - /reg/   JSON, cached, rewritten (sub_filter → `sendfile off`, deps.md §3 finding 4)
 * - /flat/  packages and version lists, cached, not rewritten (sendfile on, nginx's best case for blobs)
 * - /query  search, proxied and rewritten, never cached (the miss path)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { start, type Proc } from './procs.ts';

export interface NginxOptions {
  dir: string;
  port: number;
  /** e.g. http://127.0.0.1:40123 */
  origin: string;
  core?: number | undefined;
}

export function nginxConf(o: NginxOptions): string {
  const originHostPort = o.origin.replace(/^https?:\/\//, '');
  const rewrite = [
    '      sendfile off;',
    `      sub_filter '${o.origin}' '$scheme://$http_host';`,
    '      sub_filter_once off;',
    '      sub_filter_types application/json;',
  ];
  const cache = (valid: string): string[] => [
    '      proxy_cache nuget;',
    '      proxy_cache_lock on;',
    `      proxy_cache_valid 200 ${valid};`,
    '      proxy_cache_valid 404 1m;',
    '      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;',
    '      proxy_cache_background_update on;',
    '      add_header X-Cache $upstream_cache_status;',
  ];
  // Running as root, nginx would switch its worker to "nobody", which cannot use the 0700 temp prefix.
  const user = typeof process.getuid === 'function' && process.getuid() === 0 ? ['user root;'] : [];
  return [
    ...user,
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${join(o.dir, 'nginx.pid')};`,
    `error_log ${join(o.dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    // Logged like nugate (an access line per request, to a file): ops keep access logs, and nugate cannot go without.
    `  access_log ${join(o.dir, 'access.log')} combined;`,
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  keepalive_timeout 65;',
    // wrk keeps 32 connections open for the whole run; nginx's default of 1000 requests per connection would make
    // it reconnect every few ms, which nugate (node: unlimited) never does.
    '  keepalive_requests 1000000;',
    `  client_body_temp_path ${join(o.dir, 'client_temp')};`,
    `  proxy_temp_path ${join(o.dir, 'proxy_temp')};`,
    `  fastcgi_temp_path ${join(o.dir, 'fastcgi_temp')};`,
    `  uwsgi_temp_path ${join(o.dir, 'uwsgi_temp')};`,
    `  scgi_temp_path ${join(o.dir, 'scgi_temp')};`,
    `  proxy_cache_path ${join(o.dir, 'cache')} levels=1:2 keys_zone=nuget:10m max_size=1g inactive=7d use_temp_path=off;`,
    '  upstream origin {',
    `    server ${originHostPort};`,
    '    keepalive 64;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${o.port};`,
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Accept-Encoding "";',
    '    location /reg/ {',
    '      proxy_pass http://origin;',
    ...cache('7d'),
    ...rewrite,
    '    }',
    '    location /flat/ {',
    '      proxy_pass http://origin;',
    ...cache('365d'),
    '    }',
    '    location /query {',
    '      proxy_pass http://origin;',
    ...rewrite,
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

export async function startNginx(o: NginxOptions): Promise<Proc> {
  await mkdir(o.dir, { recursive: true });
  const conf = join(o.dir, 'nginx.conf');
  await writeFile(conf, nginxConf(o));
  const errorLog = join(o.dir, 'error.log');
  // -e: the error log to use before the config is read (nginx >= 1.19.5), so nothing is written outside the prefix.
  return start('nginx', 'nginx', ['-p', o.dir, '-c', conf, '-e', errorLog], { core: o.core, tree: true });
}
