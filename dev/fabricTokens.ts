/**
 * Claims shaped like the Entra access tokens Fabric sends a workload: an
 * app-only token of Fabric's app and a delegated token of a user. For tests
 * and the local development stack.
 */
import { randomUUID } from 'node:crypto';

/** "Fabric Client for Workloads" */
export const FABRIC_CLIENT_APP_ID = 'd2450708-699c-41e3-8077-b0c8341509aa';

export interface WorkloadIdentity {
  authorityHost: string;
  publisherTenantId: string;
  workloadClientId: string;
  workloadAudience: string;
}

export type TokenVersion = '1.0' | '2.0';

export interface TokenOptions {
  version?: TokenVersion;
  /** Seconds since the epoch; default now. */
  now?: number;
  lifetimeSeconds?: number;
  appId?: string;
}

function baseClaims(identity: WorkloadIdentity, tenantId: string, options: TokenOptions): Record<string, unknown> {
  const version = options.version ?? '2.0';
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const appId = options.appId ?? FABRIC_CLIENT_APP_ID;
  const v1 = version === '1.0';
  return {
    aud: v1 ? identity.workloadAudience : identity.workloadClientId,
    iss: v1 ? `https://sts.windows.net/${tenantId}/` : `${identity.authorityHost}/${tenantId}/v2.0`,
    iat: now - 5,
    nbf: now - 5,
    exp: now + (options.lifetimeSeconds ?? 3600),
    ...(v1 ? { appid: appId, appidacr: '2' } : { azp: appId, azpacr: '2' }),
    oid: randomUUID(),
    sub: randomUUID(),
    tid: tenantId,
    uti: randomUUID().replace(/-/g, ''),
    ver: version,
  };
}

/** App-only token of Fabric, issued in the publisher's tenant. */
export function fabricAppTokenClaims(identity: WorkloadIdentity, options: TokenOptions = {}): Record<string, unknown> {
  return { ...baseClaims(identity, identity.publisherTenantId, options), idtyp: 'app' };
}

/** Delegated token of a user of `userTenantId`, with the FabricWorkloadControl scope. */
export function fabricSubjectTokenClaims(
  identity: WorkloadIdentity,
  userTenantId: string,
  options: TokenOptions = {},
): Record<string, unknown> {
  return { ...baseClaims(identity, userTenantId, options), scp: 'FabricWorkloadControl', name: 'Development User' };
}

export function subjectAndAppHeader(subjectToken: string, appToken: string): string {
  return `SubjectAndAppToken1.0 subjectToken="${subjectToken}", appToken="${appToken}"`;
}
