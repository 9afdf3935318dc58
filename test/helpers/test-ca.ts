/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost, made with the openssl
 * CLI (on the machine; ensure-tools.sh installs it). Fails loudly when openssl is missing: TLS tests must never
 * skip.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM paths. */
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** PEM texts. */
  caPem: string;
  certPem: string;
  keyPem: string;
  cleanup(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is required for the TLS tests (apt-get install openssl; test/setup/ensure-tools.sh)');
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** Creates a CA (`name` in its subject) and a server certificate it signed, valid for `days` (negative: expired). */
export async function createTestCa(name = 'nugate test CA', opts: { days?: number } = {}): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'nugate-ca-'));
  const days = String(opts.days ?? 2);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', days, '-extfile', 'server.ext'], dir);
  const caCert = join(dir, 'ca.crt');
  const serverCert = join(dir, 'server.crt');
  const serverKey = join(dir, 'server.key');
  return {
    dir,
    caCert,
    serverCert,
    serverKey,
    caPem: await readFile(caCert, 'utf8'),
    certPem: await readFile(serverCert, 'utf8'),
    keyPem: await readFile(serverKey, 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
