import { SigningKeyStore } from './auth/signingKeyStore';
import { SubjectAndAppAuthenticator } from './auth/subjectAndAppAuthenticator';
import { ConfigError, readConfig, type Config } from './config';
import { AssertionKeys } from './auth/assertionKeys';
import { createTokenBroker } from './auth/tokenBroker';
import { UserDelegation } from './execution/userDelegation';
import { describeError } from './fabric/errors';
import { handlers as registeredHandlers } from './handlers';
import type { HandlerRegistry } from './handlers/registry';
import type { Authenticator } from './http/operation';
import { EndpointResolver } from './endpoints/endpointResolver';
import { ItemDeletion } from './items/itemDeletion';
import { Items } from './items/items';
import { ItemStore } from './items/itemStore';
import { ItemJobPurge } from './jobs/itemJobPurge';
import { JobInstances } from './jobs/jobInstances';
import { createQueueClient, JobQueue } from './execution/jobQueue';
import { JobRunner } from './execution/jobRunner';
import { JobStateStore } from './jobs/jobStateStore';
import { JobStateWriter } from './jobs/jobStateWriter';
import { createCredential } from './storage/credential';
import { createTableClient } from './storage/tableClient';
import { summaryWriterFor, type SummaryWriter } from './telemetry/summaryWriter';

export const CLOCK_SKEW_SECONDS = 60;
/** Deadline of one storage call of a request or a runner, the SDK's retries included. */
export const STORAGE_DEADLINE_MS = 10_000;

export interface CompositionOptions {
  /** Decides the storage credential (managed identity inside Azure). */
  env?: Record<string, string | undefined>;
  /** Process-wide warnings that belong to no single request, such as a failed JWKS download. */
  warn?: (message: string) => void;
  /**
   * Start the JWKS download and open the storage connection now, concurrently,
   * instead of on the first request in sequence. The Functions entry does;
   * tests that count downloads do not.
   */
  warmUp?: boolean;
  /** Bound of the validated-token cache (0 turns it off; the benchmark compares both). */
  validatedTokenCacheSize?: number;
  /** The job handlers (default: the registry of src/handlers). */
  handlers?: HandlerRegistry;
  /** Where summary lines go (default: from the telemetry settings). */
  summaries?: SummaryWriter;
}

/** Everything the functions use, built once per process. */
export interface AppServices {
  config: Config;
  authenticator: Authenticator;
  handlers: HandlerRegistry;
  jobs: JobInstances;
  items: Items;
  itemDeletion: ItemDeletion;
  endpoints: EndpointResolver;
  runner: JobRunner;
  /** Acting for the user: Create's pre-flight, the polls' refresh of a running job's token. */
  delegation: UserDelegation;
  /** Where every RequestSummary and JobTransition goes. */
  summaries: SummaryWriter;
  /** Settles once the start-up downloads have (at once without warmUp); never rejects. */
  warmedUp: Promise<void>;
}

/**
 * The composition root: builds each real dependency once per process from the
 * configuration. Tests and the local host call it with their own settings.
 */
export function createDependencies(config: Config, options: CompositionOptions = {}): AppServices {
  const env = options.env ?? process.env;
  const warn = options.warn ?? ((message: string) => console.warn(message));
  const handlers = options.handlers ?? registeredHandlers;
  const keys = new SigningKeyStore({ jwksUri: config.entraJwksUri, onFetchFailure: warn, onUnusableKeys: warn });
  const authenticator = new SubjectAndAppAuthenticator({
    authorityHost: config.entraAuthorityHost,
    v1Audience: config.workloadAudience,
    v2Audience: config.workloadClientId,
    clockSkewSeconds: CLOCK_SKEW_SECONDS,
    publisherTenantId: config.publisherTenantId,
    findKey: (kid) => keys.getKey(kid),
    keySetVersion: () => keys.versionAfterRefreshCheck(),
    validatedTokenCacheSize: options.validatedTokenCacheSize,
  });
  const jobTable = createTableClient(config.table, config.tableName, env);
  const store = new JobStateStore(jobTable, { readDeadlineMs: STORAGE_DEADLINE_MS });
  const writer = new JobStateWriter(jobTable, { deadlineMs: STORAGE_DEADLINE_MS });
  const queue = new JobQueue(() => createQueueClient(config.queue, config.queueName, env), STORAGE_DEADLINE_MS);
  const itemStore = new ItemStore(createTableClient(config.table, config.itemsTableName, env), STORAGE_DEADLINE_MS);
  const items = new Items(itemStore, handlers);
  const itemDeletion = new ItemDeletion(
    itemStore,
    items,
    new ItemJobPurge(jobTable, writer, STORAGE_DEADLINE_MS),
    handlers,
  );
  const jobs = new JobInstances(store, writer, queue, config.jobHeartbeatSeconds, (job) => itemDeletion.jobGate(job));
  const delegation = createDelegation(config, handlers);
  const runner = new JobRunner(writer, handlers, config.jobHeartbeatSeconds, {
    watcher: queue,
    delegation,
    endpoints: { oneLake: config.oneLakeEndpoint, fabricApi: config.fabricApiUrl },
  });
  const endpoints = new EndpointResolver(config.endpointResolutionUrls, env.WEBSITE_HOSTNAME);
  const summaries =
    options.summaries ??
    summaryWriterFor(
      config.telemetry,
      () => createCredential(config.telemetry.entraAuthentication?.clientId, env),
      warn,
    );
  const warmedUp = options.warmUp
    ? new Promise<void>((resolve) => {
        // Right after the module load returns, so the Functions worker can report
        // the app's functions to the host while the two downloads are under way.
        setImmediate(() => {
          const storage = store
            .warmUp()
            .catch((error: unknown) => warn(`storage warm-up failed (requests will retry): ${describeError(error)}`));
          void Promise.all([keys.prefetch(), storage]).then(
            () => resolve(),
            () => resolve(),
          );
        });
      })
    : Promise.resolve();
  return {
    config,
    authenticator,
    handlers,
    jobs,
    items,
    itemDeletion,
    endpoints,
    runner,
    delegation,
    summaries,
    warmedUp,
  };
}

/**
 * The token broker and the assertion keys, when any job type acts for its
 * user: then both settings are required, checked at start like the rest.
 */
function createDelegation(config: Config, handlers: HandlerRegistry): UserDelegation {
  const { workloadCredential, userAssertionKeys } = config;
  if (!handlers.actsForUsers) return new UserDelegation(handlers);
  const problems = [
    ...(workloadCredential ? [] : ['WORKLOAD_CLIENT_CREDENTIAL is required: a job type declares scopes']),
    ...(userAssertionKeys ? [] : ['USER_ASSERTION_KEY is required: a job type declares scopes']),
  ];
  if (!workloadCredential || !userAssertionKeys) throw new ConfigError(problems);
  const broker = createTokenBroker({
    authorityHost: config.entraTokenHost,
    clientId: config.workloadClientId,
    publisherTenantId: config.publisherTenantId,
    credential: workloadCredential,
  });
  return new UserDelegation(handlers, broker, new AssertionKeys(userAssertionKeys.current, userAssertionKeys.previous));
}

let dependencies: AppServices | undefined;

/** The process-wide dependencies, from process.env; throws ConfigError naming every bad setting. */
export function getDependencies(options: Pick<CompositionOptions, 'warmUp'> = {}): AppServices {
  dependencies ??= createDependencies(readConfig(process.env), options);
  return dependencies;
}
