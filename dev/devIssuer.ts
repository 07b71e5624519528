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

/** The audience of Azure Storage's tokens, which OneLake takes. */
export const STORAGE_AUDIENCE = 'https://storage.azure.com';

/**
 * A storage-audience token of the development user, valid for an hour, for
 * reading the OneLake stand-in by hand (npm start's listing line). Shaped as
 * Entra's v1 token that an on-behalf-of exchange for OneLake's scope gives:
 * what the stand-in's `--oauth basic` checks (dev/azurite.ts) is there, `iss`
 * of the user's tenant, `aud`, `iat`, `nbf` and `exp`.
 */
export function devStorageToken(issuer: TokenIssuer, settings: DevSettings): string {
  const tenant = settings.DEV_USER_TENANT_ID;
  const now = Math.floor(Date.now() / 1000);
  return issuer.sign({
    aud: STORAGE_AUDIENCE,
    iss: `https://sts.windows.net/${tenant}/`,
    iat: now - 5,
    nbf: now - 5,
    exp: now + 3600,
    tid: tenant,
    appid: settings.WORKLOAD_CLIENT_ID,
    scp: 'user_impersonation',
    name: 'Development User',
    ver: '1.0',
  });
}
