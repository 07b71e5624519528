import { SigningKeyStore } from './auth/signingKeyStore';
import { SubjectAndAppAuthenticator } from './auth/subjectAndAppAuthenticator';
import { readConfig, type Config } from './config';
import type { JobStateDependencies } from './http/getItemJobInstanceState';
import { createTableClient } from './jobs/tableClient';
import { JobStateStore } from './jobs/jobStateStore';

export const CLOCK_SKEW_SECONDS = 60;

export interface CompositionOptions {
  /** Decides the storage credential (managed identity inside Azure). */
  env?: Record<string, string | undefined>;
  /** Process-wide warnings that belong to no single request, such as a failed JWKS download. */
  warn?: (message: string) => void;
}

/**
 * The composition root: builds each real dependency once per process from the
 * configuration. Tests and the local host call it with their own settings.
 */
export function createDependencies(config: Config, options: CompositionOptions = {}): JobStateDependencies {
  const env = options.env ?? process.env;
  const keys = new SigningKeyStore({
    jwksUri: config.entraJwksUri,
    onFetchFailure: options.warn ?? ((message) => console.warn(message)),
  });
  const authenticator = new SubjectAndAppAuthenticator({
    authorityHost: config.entraAuthorityHost,
    v1Audience: config.workloadAudience,
    v2Audience: config.workloadClientId,
    clockSkewSeconds: CLOCK_SKEW_SECONDS,
    publisherTenantId: config.publisherTenantId,
    findKey: (kid) => keys.getKey(kid),
  });
  const store = new JobStateStore(createTableClient(config.table, config.tableName, env));
  return { authenticator, store };
}

let dependencies: JobStateDependencies | undefined;

/** The process-wide dependencies, from process.env; throws ConfigError naming every bad setting. */
export function getDependencies(): JobStateDependencies {
  dependencies ??= createDependencies(readConfig(process.env));
  return dependencies;
}
