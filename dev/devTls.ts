/**
 * The development TLS certificate: one self-signed certificate for 127.0.0.1
 * (dev/x509.ts) and its P-256 key, kept in a folder as `cert.pem` and
 * `key.pem`. Every loopback HTTPS service of the stack serves it (Azurite's
 * Blob service as OneLake's stand-in, the fake Fabric API, the token endpoint
 * when given it), and every process that calls them trusts it through
 * Node's own `NODE_EXTRA_CA_CERTS=<certFile>` (`trustEnv`), which Node reads
 * once, when the process starts: set it in the environment of a child
 * process, never in a running one.
 *
 * Files already in the folder are reused while they are a matching pair for
 * 127.0.0.1 valid for more than a day; otherwise a new pair replaces them. A
 * lock file keeps two processes making the folder at once from mixing their
 * pairs.
 */
import { generateKeyPairSync, X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertOutsideAzure } from './tokenIssuer';
import { certificatePem, selfSignedCertificate } from './x509';

export const DEV_TLS_HOST = '127.0.0.1';
const MIN_REMAINING_MS = 86_400_000;
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

export interface DevTls {
  /** The PEM certificate's file: what NODE_EXTRA_CA_CERTS names. */
  certFile: string;
  /** The PEM (PKCS#8) private key's file. */
  keyFile: string;
  /** The PEM certificate, for a server's `cert` (and a client's `ca`). */
  cert: string;
  /** The PEM private key, for a server's `key`. */
  key: string;
}

/** The folder's certificate and key: the ones there when still good, else a new pair written there. */
export function developmentTls(dir: string): DevTls {
  assertOutsideAzure();
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const existing = readUsable(certFile, keyFile);
  if (existing) return existing;
  return withLock(join(dir, '.lock'), () => {
    const written = readUsable(certFile, keyFile); // another process may have written it meanwhile
    if (written) return written;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = selfSignedCertificate(privateKey, 'fabric workload development', DEV_TLS_HOST);
    const cert = certificatePem(der);
    const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // Each file whole or not at all: a reader never sees half a file.
    writeAtomically(keyFile, key, 0o600);
    writeAtomically(certFile, cert, 0o644);
    return { certFile, keyFile, cert, key };
  });
}

/**
 * The environment that makes a child process trust the certificate: NODE_EXTRA_CA_CERTS,
 * naming a file that also holds what `env`'s NODE_EXTRA_CA_CERTS named, if anything.
 */
export function trustEnv(
  tls: DevTls,
  env: Record<string, string | undefined> = process.env,
): { NODE_EXTRA_CA_CERTS: string } {
  const inherited = env.NODE_EXTRA_CA_CERTS;
  if (!inherited || inherited === tls.certFile) return { NODE_EXTRA_CA_CERTS: tls.certFile };
  const bundle = join(dirname(tls.certFile), 'ca-bundle.pem');
  let theirs = '';
  try {
    theirs = readFileSync(inherited, 'utf8');
  } catch {
    // Node warns about an unreadable NODE_EXTRA_CA_CERTS and goes on; so do we.
  }
  writeAtomically(bundle, `${theirs.trimEnd()}\n${tls.cert}`, 0o644);
  return { NODE_EXTRA_CA_CERTS: bundle };
}

/**
 * Whether `env`'s NODE_EXTRA_CA_CERTS names a file that holds the certificate
 * (the certificate's own file, or trustEnv's bundle): then a process started
 * with `env` trusts it.
 */
export function trustsCertificate(tls: DevTls, env: Record<string, string | undefined> = process.env): boolean {
  const named = env.NODE_EXTRA_CA_CERTS;
  if (!named) return false;
  try {
    return readFileSync(named, 'utf8').includes(tls.cert.trim());
  } catch {
    return false;
  }
}

/** The pair in the files if it is one, is for 127.0.0.1 and stays valid for more than a day. */
function readUsable(certFile: string, keyFile: string): DevTls | undefined {
  try {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    const x509 = new X509Certificate(cert);
    const usable =
      x509.checkPrivateKey(createPrivateKey(key)) &&
      x509.checkIP(DEV_TLS_HOST) !== undefined &&
      new Date(x509.validFrom).getTime() <= Date.now() &&
      new Date(x509.validTo).getTime() - Date.now() > MIN_REMAINING_MS;
    return usable ? { certFile, keyFile, cert, key } : undefined;
  } catch {
    return undefined; // missing or unreadable: make a new pair
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, file);
}

function withLock<T>(lock: string, body: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockAge(lock) > LOCK_STALE_MS)
        rmSync(lock, { force: true }); // its maker died
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another process`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return body();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockAge(lock: string): number {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return 0;
  }
}
