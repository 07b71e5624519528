/**
 * The development TLS certificate: the files it keeps, and the trust the
 * global setup gives every worker through NODE_EXTRA_CA_CERTS (set before
 * vitest forks the workers, read by Node when a process starts), shown by
 * plain TLS requests that name no certificate of their own.
 */
import '../../dev/loopbackOnly';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { developmentTls, trustEnv, trustsCertificate } from '../../dev/devTls';
import { startTokenEndpoint } from '../../dev/tokenEndpoint';
import { TokenIssuer } from '../../dev/tokenIssuer';
import { certificatePem, selfSignedCertificate } from '../../dev/x509';
import { IDENTITY } from '../fixtures/tokens';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-tls-test-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const pem = certificatePem;

/** Serves `tls` on 127.0.0.1 and GETs it with Node's defaults (no `ca`): the status, or the TLS error's code. */
async function plainRequest(tls: { cert: string; key: string }): Promise<number | string> {
  const server = createServer(tls, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve) => {
      get(`https://127.0.0.1:${port}/`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('trust in the development certificate, in a test worker', () => {
  it('NODE_EXTRA_CA_CERTS names a file holding the certificate of the global setup', () => {
    const tls = developmentTls(inject('devTlsDir'));
    expect(process.env.NODE_EXTRA_CA_CERTS).toBeTruthy();
    expect(readFileSync(process.env.NODE_EXTRA_CA_CERTS!, 'utf8')).toContain(tls.cert.trim());
  });

  it('a TLS request with no certificate of its own succeeds against it, and fails against any other', async () => {
    expect(await plainRequest(developmentTls(inject('devTlsDir')))).toBe(200);
    expect(await plainRequest(developmentTls(tempDir()))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('global fetch trusts it too (the Fabric client uses fetch)', async () => {
    const tls = developmentTls(inject('devTlsDir'));
    const server = createServer(tls, (_req, res) => res.end('fetched'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const answer = await fetch(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await answer.text()).toBe('fetched');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('the token endpoint serves it when told to', async () => {
    const tls = developmentTls(inject('devTlsDir'));
    const issuer = new TokenIssuer();
    issuer.addKey();
    const endpoint = await startTokenEndpoint(issuer, { identity: IDENTITY, client: { secret: 's' }, tls });
    try {
      expect(endpoint.caCertificate).toBe(tls.cert);
      const status = await new Promise((resolve, reject) =>
        get(`${endpoint.authorityHost}/nothing`, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject),
      );
      expect(status).toBe(404);
    } finally {
      await endpoint.close();
    }
  });
});

describe('developmentTls', () => {
  it('writes cert.pem and key.pem, a matching pair for 127.0.0.1, the key readable by its owner only', () => {
    const dir = tempDir();
    const tls = developmentTls(dir);
    expect(tls.certFile).toBe(join(dir, 'cert.pem'));
    expect(tls.keyFile).toBe(join(dir, 'key.pem'));
    expect(readFileSync(tls.certFile, 'utf8')).toBe(tls.cert);
    expect(readFileSync(tls.keyFile, 'utf8')).toBe(tls.key);
    const x509 = new X509Certificate(tls.cert);
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(new Date(x509.validTo).getTime() - Date.now()).toBeGreaterThan(300 * 86_400_000);
    if (process.platform !== 'win32') expect(statSync(tls.keyFile).mode & 0o077).toBe(0);
  });

  it('reuses the files while they are good', () => {
    const dir = tempDir();
    const first = developmentTls(dir);
    expect(developmentTls(dir)).toEqual(first);
  });

  it('replaces a certificate valid for a day or less, one for another address, a pair that does not match, and garbage', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const now = Date.now();
    const cases: Record<string, { cert: string; key: string }> = {
      'expires within a day': {
        cert: pem(
          selfSignedCertificate(privateKey, 'x', '127.0.0.1', {
            from: new Date(now - 86_400_000),
            to: new Date(now + 23 * 3_600_000),
          }),
        ),
        key,
      },
      'another address': { cert: pem(selfSignedCertificate(privateKey, 'x', '10.0.0.1')), key },
      'not its key': {
        cert: pem(selfSignedCertificate(privateKey, 'x', '127.0.0.1')),
        key: generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ format: 'pem', type: 'pkcs8' })
          .toString(),
      },
      garbage: { cert: 'not a certificate', key: 'not a key' },
    };
    for (const [why, files] of Object.entries(cases)) {
      const dir = tempDir();
      writeFileSync(join(dir, 'cert.pem'), files.cert);
      writeFileSync(join(dir, 'key.pem'), files.key);
      const tls = developmentTls(dir);
      expect(tls.cert, why).not.toBe(files.cert);
      expect(readFileSync(join(dir, 'cert.pem'), 'utf8'), why).toBe(tls.cert);
    }
    // And keeps one that has more than a day left.
    const dir = tempDir();
    const longer = pem(
      selfSignedCertificate(privateKey, 'x', '127.0.0.1', {
        from: new Date(now - 1000),
        to: new Date(now + 25 * 3_600_000),
      }),
    );
    writeFileSync(join(dir, 'cert.pem'), longer);
    writeFileSync(join(dir, 'key.pem'), key);
    expect(developmentTls(dir).cert).toBe(longer);
  });

  it('trustEnv: the certificate file itself, or a bundle with what an inherited NODE_EXTRA_CA_CERTS named', () => {
    const dir = tempDir();
    const tls = developmentTls(dir);
    expect(trustEnv(tls, {})).toEqual({ NODE_EXTRA_CA_CERTS: tls.certFile });
    const theirs = join(tempDir(), 'corporate.pem');
    const corporate = developmentTls(join(tempDir(), 'corporate')).cert;
    writeFileSync(theirs, corporate);
    const { NODE_EXTRA_CA_CERTS: bundle } = trustEnv(tls, { NODE_EXTRA_CA_CERTS: theirs });
    expect(bundle).not.toBe(tls.certFile);
    const text = readFileSync(bundle, 'utf8');
    expect(text).toContain(corporate.trim());
    expect(text).toContain(tls.cert.trim());
  });

  it("trustsCertificate: NODE_EXTRA_CA_CERTS names the certificate's file or a bundle holding it (npm start then runs in one process)", () => {
    const tls = developmentTls(tempDir());
    const other = developmentTls(tempDir());
    expect(trustsCertificate(tls, {})).toBe(false);
    expect(trustsCertificate(tls, { NODE_EXTRA_CA_CERTS: tls.certFile })).toBe(true);
    expect(trustsCertificate(tls, trustEnv(tls, { NODE_EXTRA_CA_CERTS: other.certFile }))).toBe(true);
    expect(trustsCertificate(tls, { NODE_EXTRA_CA_CERTS: other.certFile })).toBe(false);
    expect(trustsCertificate(tls, { NODE_EXTRA_CA_CERTS: join(tempDir(), 'missing.pem') })).toBe(false);
  });
});
