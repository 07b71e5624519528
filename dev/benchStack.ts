/**
 * What `npm run bench` runs against, all on loopback: Azurite (in memory)
 * with the demo job's row, a JWKS server, Entra's token endpoint and
 * OneLake's stand-in. The app acts for its users (the demo job type declares
 * OneLake's scope), so it needs the token endpoint, a client credential and a
 * sealing key to start, and its demo jobs write to OneLake. The token
 * endpoint and the stand-in serve the development certificate, which the
 * bench's process and every host it starts trust (NODE_EXTRA_CA_CERTS).
 */
import { randomBytes } from 'node:crypto';
import { readConfig } from '../src/config';
import { jobInstancePath } from '../src/http/jobPath';
import { toJobEntity } from '../src/jobs/jobRow';
import { createTableClient } from '../src/storage/tableClient';
import { createOneLakeWorkspace, startAzurite, startOneLakeStandIn } from './azurite';
import type { UserBenchFixture } from './benchUser';
import { devIdentity } from './devIssuer';
import { appSettingsOf, DEMO_JOB, DEV_CLIENT_SECRET, devSettings } from './devSettings';
import type { DevTls } from './devTls';
import { fabricAppTokenClaims, fabricSubjectTokenClaims, subjectAndAppHeader } from './fabricTokens';
import { PROJECT_ROOT } from './projectRoot';
import { startTokenEndpoint, workloadAppCertificate } from './tokenEndpoint';
import { startJwksServer, TokenIssuer } from './tokenIssuer';

export interface Fixture {
  settings: Record<string, string>;
  /**
   * The same, for a host that believes it runs in Azure (the telemetry
   * exporter's, WEBSITE_SITE_NAME set), which refuses the development secret:
   * a certificate registered on the workload app with the token endpoint.
   */
  azureSettings: Record<string, string>;
  headers: Record<string, string>;
  url: (baseUrl: string) => string;
  subjectToken: string;
  appToken: string;
  issuer: TokenIssuer;
}

export interface BenchStack {
  fixture: Fixture;
  /** The demo job's fixture for the jobs, the toolkit's and acting for the user's parts. */
  jobFixture: UserBenchFixture;
  close: () => Promise<void>;
  jwksRequests: () => number;
}

export async function startBenchStack(tls: DevTls): Promise<BenchStack> {
  const [azurite, oneLake] = await Promise.all([startAzurite(), startOneLakeStandIn({ tls })]);
  await createOneLakeWorkspace(oneLake.connectionString, DEMO_JOB.workspaceId);
  const issuer = new TokenIssuer();
  issuer.addKey();
  const jwks = await startJwksServer(issuer);
  const base = devSettings({}, PROJECT_ROOT);
  const identity = devIdentity(base);
  const certificate = workloadAppCertificate();
  const tokenEndpoint = await startTokenEndpoint(issuer, {
    identity,
    client: { secret: DEV_CLIENT_SECRET, certificate: certificate.registered },
    tls,
  });
  const dev = {
    ...base,
    ENTRA_JWKS_URI: jwks.jwksUri,
    JOB_STATE_TABLE_CONNECTION_STRING: azurite.connectionString,
    JobQueue: azurite.connectionString,
    ENTRA_TOKEN_HOST: tokenEndpoint.authorityHost,
    ONELAKE_ENDPOINT: oneLake.endpoint,
    USER_ASSERTION_KEY: randomBytes(32).toString('base64'), // this run's own
  };
  // Every host the bench starts trusts the certificate as its own process does.
  const settings: Record<string, string> = {
    ...appSettingsOf(dev),
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS!,
  };
  const { WORKLOAD_CLIENT_SECRET: _secret, ...withoutSecret } = settings;
  const azureSettings = {
    ...withoutSecret,
    WORKLOAD_CLIENT_CREDENTIAL: 'certificate',
    WORKLOAD_CLIENT_CERTIFICATE: certificate.pem,
  };
  const config = readConfig(settings);
  const table = createTableClient(config.table, config.tableName, {});
  await table.createTable();
  await createTableClient(config.table, config.itemsTableName, {}).createTable();
  await table.createEntity(toJobEntity({ ...DEMO_JOB, tenantId: dev.DEV_USER_TENANT_ID }));
  const appToken = issuer.sign(fabricAppTokenClaims(identity));
  const headersOf = (subjectToken: string) => ({
    authorization: subjectAndAppHeader(subjectToken, appToken),
    'x-ms-client-tenant-id': dev.DEV_USER_TENANT_ID,
  });
  const subjectToken = issuer.sign(fabricSubjectTokenClaims(identity, dev.DEV_USER_TENANT_ID));
  const fixture: Fixture = {
    settings,
    azureSettings,
    headers: headersOf(subjectToken),
    url: (baseUrl) => baseUrl + jobInstancePath(DEMO_JOB),
    subjectToken,
    appToken,
    issuer,
  };
  const jobFixture: UserBenchFixture = {
    ...fixture,
    publicKey: issuer.keys[0].publicKey,
    tenantId: dev.DEV_USER_TENANT_ID,
    tokenRequests: () => tokenEndpoint.requests.length,
    // Each a new oid: a user MSAL's cache has not seen.
    newUserHeaders: () => headersOf(issuer.sign(fabricSubjectTokenClaims(identity, dev.DEV_USER_TENANT_ID))),
  };
  return {
    fixture,
    jobFixture,
    jwksRequests: () => jwks.requests,
    close: async () => {
      await tokenEndpoint.close();
      await jwks.close();
      await Promise.all([azurite.stop(), oneLake.stop()]);
    },
  };
}
