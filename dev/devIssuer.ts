/**
 * The development token issuer: one RSA key kept in the git-ignored data
 * folder (so tokens survive a restart and `npm run token` can sign without
 * the running stack), and Fabric-shaped tokens signed with it.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  fabricAppTokenClaims,
  fabricSubjectTokenClaims,
  subjectAndAppHeader,
  type WorkloadIdentity,
} from './fabricTokens';
import { assertOutsideAzure, TokenIssuer } from './tokenIssuer';
import type { DevSettings } from './devSettings';

function loadOrCreateKey(dataDir: string): KeyObject {
  const file = join(dataDir, 'dev-issuer-key.pem');
  if (existsSync(file)) return createPrivateKey(readFileSync(file, 'utf8'));
  mkdirSync(dataDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  return privateKey;
}

export function devIdentity(settings: DevSettings): WorkloadIdentity {
  return {
    authorityHost: 'https://login.microsoftonline.com',
    publisherTenantId: settings.PUBLISHER_TENANT_ID,
    workloadClientId: settings.WORKLOAD_CLIENT_ID,
    workloadAudience: settings.WORKLOAD_AUDIENCE,
  };
}

/** Refuses inside Azure; the key id is the public key's SHA-256 thumbprint, stable across runs. */
export function createDevIssuer(settings: DevSettings): TokenIssuer {
  assertOutsideAzure();
  const privateKey = loadOrCreateKey(settings.DEV_DATA_DIR);
  const kid = createHash('sha256')
    .update(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }))
    .digest('base64url')
    .slice(0, 27);
  const issuer = new TokenIssuer(devIdentity(settings).authorityHost);
  issuer.addKey({ kid }, privateKey);
  return issuer;
}

/** A fresh SubjectAndApp header for the development user, valid for an hour. */
export function devAuthorization(issuer: TokenIssuer, settings: DevSettings): string {
  const identity = devIdentity(settings);
  return subjectAndAppHeader(
    issuer.sign(fabricSubjectTokenClaims(identity, settings.DEV_USER_TENANT_ID)),
    issuer.sign(fabricAppTokenClaims(identity)),
  );
}

/** The header of Fabric's endpoint-resolution call: the app token alone, the subject token empty. */
export function devAppOnlyAuthorization(issuer: TokenIssuer, settings: DevSettings): string {
  return subjectAndAppHeader('', issuer.sign(fabricAppTokenClaims(devIdentity(settings))));
}
