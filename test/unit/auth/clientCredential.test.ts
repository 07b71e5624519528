import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../../../src/config';
import { certificatePem, selfSignedCertificate } from '../../../dev/x509';

import { MINIMAL_SETTINGS as VALID } from '../../fixtures/settings';
const MI = '0f0f0f0f-1111-4111-8111-000000000001';
const SECRET = 'do-not-print-this-secret';

const pem = certificatePem;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyPem = (key: typeof rsa.privateKey) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
const CERTIFICATE = pem(selfSignedCertificate(rsa.privateKey)) + keyPem(rsa.privateKey);

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    readConfig({ ...VALID, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('WORKLOAD_CLIENT_CREDENTIAL and its material', () => {
  it('is optional as a whole: unset, nothing changes', () => {
    expect(readConfig(VALID).workloadCredential).toBeUndefined();
  });

  it('managedIdentity: the identity from WORKLOAD_MANAGED_IDENTITY_CLIENT_ID, else AZURE_CLIENT_ID', () => {
    expect(
      readConfig({
        ...VALID,
        WORKLOAD_CLIENT_CREDENTIAL: 'managedIdentity',
        WORKLOAD_MANAGED_IDENTITY_CLIENT_ID: MI.toUpperCase(),
      }).workloadCredential,
    ).toEqual({ kind: 'managedIdentity', managedIdentityClientId: MI });
    expect(
      readConfig({ ...VALID, WORKLOAD_CLIENT_CREDENTIAL: 'managedIdentity', AZURE_CLIENT_ID: MI }).workloadCredential,
    ).toEqual({
      kind: 'managedIdentity',
      managedIdentityClientId: MI,
    });
    expect(problemsOf({ WORKLOAD_CLIENT_CREDENTIAL: 'managedIdentity' })).toEqual([
      expect.stringContaining('WORKLOAD_MANAGED_IDENTITY_CLIENT_ID (or AZURE_CLIENT_ID) must be the client id'),
    ]);
  });

  it('certificate: reads the thumbprint and keeps the key; refuses a key of another certificate, an EC key, or no PEM', () => {
    const credential = readConfig({
      ...VALID,
      WORKLOAD_CLIENT_CREDENTIAL: 'certificate',
      WORKLOAD_CLIENT_CERTIFICATE: CERTIFICATE,
    }).workloadCredential;
    expect(credential).toMatchObject({
      kind: 'certificate',
      thumbprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // Line breaks written as \n in a setting.
    expect(
      readConfig({
        ...VALID,
        WORKLOAD_CLIENT_CREDENTIAL: 'certificate',
        WORKLOAD_CLIENT_CERTIFICATE: CERTIFICATE.replace(/\n/g, '\\n'),
      }).workloadCredential,
    ).toEqual(credential);
    const mismatched = pem(selfSignedCertificate(rsa.privateKey)) + keyPem(otherRsa.privateKey);
    expect(problemsOf({ WORKLOAD_CLIENT_CREDENTIAL: 'certificate', WORKLOAD_CLIENT_CERTIFICATE: mismatched })).toEqual([
      'WORKLOAD_CLIENT_CERTIFICATE: the private key does not belong to the certificate',
    ]);
    const ecPem = pem(selfSignedCertificate(ec.privateKey)) + keyPem(ec.privateKey);
    expect(problemsOf({ WORKLOAD_CLIENT_CREDENTIAL: 'certificate', WORKLOAD_CLIENT_CERTIFICATE: ecPem })).toEqual([
      expect.stringContaining('must be RSA'),
    ]);
    const garbage = problemsOf({
      WORKLOAD_CLIENT_CREDENTIAL: 'certificate',
      WORKLOAD_CLIENT_CERTIFICATE: keyPem(rsa.privateKey),
    });
    expect(garbage).toEqual([expect.stringContaining('must be PEM text')]);
    expect(garbage.join('\n')).not.toContain('PRIVATE KEY-----');
  });

  it('secret: development only, refused inside Azure; the secret appears in no problem', () => {
    expect(
      readConfig({ ...VALID, WORKLOAD_CLIENT_CREDENTIAL: 'secret', WORKLOAD_CLIENT_SECRET: SECRET }).workloadCredential,
    ).toEqual({
      kind: 'secret',
      secret: SECRET,
    });
    const inAzure = problemsOf({
      WORKLOAD_CLIENT_CREDENTIAL: 'secret',
      WORKLOAD_CLIENT_SECRET: SECRET,
      WEBSITE_INSTANCE_ID: 'x',
    });
    expect(inAzure).toEqual([expect.stringContaining('for development only')]);
    expect(inAzure.join('\n')).not.toContain(SECRET);
  });

  it('names every problem at once, with the other settings’ problems, and never quotes the material', () => {
    let message = '';
    try {
      readConfig({
        ...VALID,
        PUBLISHER_TENANT_ID: 'nope',
        WORKLOAD_CLIENT_CREDENTIAL: 'managedIdentity',
        WORKLOAD_CLIENT_SECRET: SECRET,
        WORKLOAD_CLIENT_CERTIFICATE: CERTIFICATE,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('PUBLISHER_TENANT_ID must be a GUID');
    expect(message).toContain('WORKLOAD_CLIENT_SECRET is set but WORKLOAD_CLIENT_CREDENTIAL is managedIdentity');
    expect(message).toContain('WORKLOAD_CLIENT_CERTIFICATE is set but WORKLOAD_CLIENT_CREDENTIAL is managedIdentity');
    expect(message).toContain('WORKLOAD_MANAGED_IDENTITY_CLIENT_ID (or AZURE_CLIENT_ID)');
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('BEGIN');
    expect(problemsOf({ WORKLOAD_CLIENT_CREDENTIAL: 'password' })).toEqual([
      'WORKLOAD_CLIENT_CREDENTIAL must be one of managedIdentity, certificate, secret (or unset)',
    ]);
    expect(problemsOf({ WORKLOAD_CLIENT_SECRET: SECRET })).toEqual([
      'WORKLOAD_CLIENT_SECRET is set but WORKLOAD_CLIENT_CREDENTIAL is unset; remove it',
    ]);
  });
});
