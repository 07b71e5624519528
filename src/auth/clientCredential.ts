import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { isRunningInAzure } from '../azureHost';
import { isGuid } from '../ids';

/**
 * How the workload's Entra app proves itself when it asks for tokens (the
 * token broker): `WORKLOAD_CLIENT_CREDENTIAL` says which, further settings
 * carry the material. Unset as a whole: acting for the user is off and no
 * current deployment needs anything new.
 */
export type ClientCredential =
  /** Keyless: the user-assigned managed identity's token for api://AzureADTokenExchange is the client assertion. */
  | { kind: 'managedIdentity'; managedIdentityClientId: string }
  /** A certificate registered on the app: MSAL signs its client assertions with the private key. */
  | {
      kind: 'certificate';
      privateKeyPem: string;
      thumbprintSha256: string;
      /** The certificate as PEM (MSAL sends it as x5c). */ x5c: string;
    }
  /** Development only: refused inside Azure. */
  | { kind: 'secret'; secret: string };

export const CLIENT_CREDENTIAL_KINDS = ['managedIdentity', 'certificate', 'secret'] as const;

/** The settings read here, for the rows of src/config/. */
export const CLIENT_CREDENTIAL_SETTINGS = {
  kind: 'WORKLOAD_CLIENT_CREDENTIAL',
  identity: 'WORKLOAD_MANAGED_IDENTITY_CLIENT_ID',
  certificate: 'WORKLOAD_CLIENT_CERTIFICATE',
  secret: 'WORKLOAD_CLIENT_SECRET',
} as const;

type Value = (name: string) => string | undefined;

/**
 * Reads the client credential, pushing every problem onto `problems`
 * (src/config/ reports them with the other settings' at start). No problem
 * quotes a secret, a key or a certificate.
 */
export function readClientCredential(
  value: Value,
  problems: string[],
  env: Record<string, string | undefined>,
): ClientCredential | undefined {
  const { kind: KIND, identity: IDENTITY, certificate: CERTIFICATE, secret: SECRET } = CLIENT_CREDENTIAL_SETTINGS;
  const kind = value(KIND);
  const material = { [IDENTITY]: value(IDENTITY), [CERTIFICATE]: value(CERTIFICATE), [SECRET]: value(SECRET) };
  const stray = (except: string) =>
    Object.entries(material)
      .filter(([name, set]) => set !== undefined && name !== except)
      .forEach(([name]) => problems.push(`${name} is set but ${KIND} is ${kind ?? 'unset'}; remove it`));
  switch (kind) {
    case undefined:
      stray('');
      return undefined;
    case 'managedIdentity': {
      stray(IDENTITY);
      const clientId = material[IDENTITY] ?? value('AZURE_CLIENT_ID');
      if (clientId === undefined || !isGuid(clientId)) {
        problems.push(
          `${IDENTITY} (or AZURE_CLIENT_ID) must be the client id (a GUID) of the user-assigned managed identity federated with the workload app`,
        );
        return undefined;
      }
      return { kind, managedIdentityClientId: clientId.toLowerCase() };
    }
    case 'certificate': {
      stray(CERTIFICATE);
      return readCertificate(material[CERTIFICATE], problems);
    }
    case 'secret': {
      stray(SECRET);
      if (isRunningInAzure(env)) {
        problems.push(`${KIND}=secret is for development only; inside Azure use managedIdentity or certificate`);
        return undefined;
      }
      const secret = material[SECRET];
      if (secret === undefined) {
        problems.push(`${SECRET} is required with ${KIND}=secret`);
        return undefined;
      }
      return { kind, secret };
    }
    default:
      problems.push(`${KIND} must be one of ${CLIENT_CREDENTIAL_KINDS.join(', ')} (or unset)`);
      return undefined;
  }
}

/** One PEM text holding the certificate and its unencrypted private key, which must belong together. */
function readCertificate(pem: string | undefined, problems: string[]): ClientCredential | undefined {
  const name = CLIENT_CREDENTIAL_SETTINGS.certificate;
  if (pem === undefined) {
    problems.push(`${name} is required with ${CLIENT_CREDENTIAL_SETTINGS.kind}=certificate`);
    return undefined;
  }
  // Settings often carry line breaks as the two characters \n.
  const text = pem.replace(/\\n/g, '\n');
  const certificateBlock = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(text)?.[0];
  const keyBlock = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[^-]+-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(
    text,
  )?.[0];
  if (!certificateBlock || !keyBlock) {
    problems.push(`${name} must be PEM text with the certificate and its unencrypted private key`);
    return undefined;
  }
  try {
    const certificate = new X509Certificate(certificateBlock);
    const privateKey = createPrivateKey(keyBlock);
    if (privateKey.asymmetricKeyType !== 'rsa') {
      problems.push(`${name}: the key must be RSA (MSAL signs its client assertions with PS256)`);
      return undefined;
    }
    if (!certificate.checkPrivateKey(privateKey)) {
      problems.push(`${name}: the private key does not belong to the certificate`);
      return undefined;
    }
    return {
      kind: 'certificate',
      privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      thumbprintSha256: createHash('sha256').update(certificate.raw).digest('hex'),
      x5c: certificateBlock,
    };
  } catch {
    problems.push(`${name} must be PEM text with the certificate and its unencrypted private key`);
    return undefined;
  }
}
