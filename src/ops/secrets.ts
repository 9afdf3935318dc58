/**
 * The secret values a configured nugate holds, so the logger can refuse to print them (ops/logger.ts). They
 * come from the environment variables the config names (upstream auth, upstream headers, publish keys); the
 * config file itself never holds one.
 */
import type { Config } from '../config/schema.ts';

/**
 * @example
 * createLogger(config.log.level, undefined, { secrets: secretValues(config, process.env) })
 */
export function secretValues(config: Config, env: NodeJS.ProcessEnv): string[] {
  const names: string[] = [];
  for (const u of config.upstreams) {
    const auth = u.auth;
    if (auth?.type === 'basic') names.push(auth.passwordEnv);
    else if (auth !== undefined) names.push(auth.tokenEnv);
    // Custom headers are configured because they authenticate (secret headers, tenant keys): treat them all so.
    for (const { env: name } of Object.values(u.headers)) names.push(name);
    if (u.apiKeyEnv !== undefined) names.push(u.apiKeyEnv);
  }
  const values = new Set<string>();
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') values.add(value);
  }
  // Outbound proxy credentials: the user-info of a configured or environment proxy URL, and the Basic token made of it.
  const proxies = config.upstreams.map((u) => u.proxy);
  for (const name of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) proxies.push(env[name]);
  for (const proxy of proxies) for (const v of proxySecrets(proxy)) values.add(v);
  for (const u of config.upstreams) {
    if (u.auth?.type !== 'basic') continue;
    // What goes over the wire for Basic is the base64 of user:password, which is as good as the password.
    const user = env[u.auth.usernameEnv] ?? '';
    const password = env[u.auth.passwordEnv];
    if (password) values.add(Buffer.from(`${user}:${password}`, 'utf8').toString('base64'));
  }
  return [...values];
}

/** The secrets a proxy URL carries: its password (raw and decoded), user:password and their Basic token. */
function proxySecrets(url: string | undefined): string[] {
  if (url === undefined || url === '') return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  if (parsed.password === '') return [];
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  return [parsed.password, password, `${parsed.username}:${parsed.password}`, `${user}:${password}`, Buffer.from(`${user}:${password}`, 'utf8').toString('base64')];
}
