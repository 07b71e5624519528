import type { FabricApi } from '../clients/fabricApi';
import type { OneLakeFolder } from '../clients/oneLake';
import type { ErrorExtendedInformation, ErrorSource } from '../fabric/contract';
import type { ItemDefinition } from '../fabric/toolkitRequests';

/** What a job handler is given about its job: the row's ids and owner, and how Fabric started it. */
export interface Job {
  workspaceId: string;
  itemType: string;
  itemId: string;
  jobType: string;
  jobInstanceId: string;
  /** The tenant of the user on whose behalf Fabric created the job. */
  tenantId: string;
  /** The user's object id (from Fabric's subject token), when the job was created through this app. */
  userObjectId?: string;
  /** `Manual`, `Scheduled`, or whatever Fabric sent. */
  invokeType?: string;
  /**
   * The creation payload Fabric sent (a JSON object; `{}` when there was
   * none). For a job of the toolkit's contract: its executionData when that is
   * an object, `{}` otherwise.
   */
  creationPayload: Record<string, unknown>;
  /** Which of Fabric's contracts started the job: v1 (CreateItemJobInstance) or the Extensibility Toolkit's. */
  contract: 'v1' | 'toolkit';
  /** The toolkit's executionData as it came (any JSON value); absent for v1 jobs or when none came. */
  executionData?: unknown;
  /** The item definition the toolkit's Create sent, when one came (InlineBase64 parts decoded in `bytes`). */
  definition?: ItemDefinition;
}

/** Lines a handler writes; each carries the job's ids. */
export interface JobLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobContext {
  /**
   * Aborted when the job is cancelled (or found lost) while it runs. Stop
   * soon after: whatever the handler does afterwards, the job stays Cancelled.
   */
  signal: AbortSignal;
  log: JobLog;
  /** The user Fabric started the job for; tokens on their behalf for a job type registered with scopes. */
  user: JobUser;
  /**
   * The job's item's own OneLake folder (`{workspaceId}/{itemId}`, paths
   * under `Files/` or `Tables/`), read and written as the user: the job type
   * must declare OneLake's scope (`ONELAKE_SCOPE`).
   */
  oneLake: OneLakeFolder;
  /** Fabric's REST API as the user (`429` and `Retry-After` honoured, bounded retries): the job type must declare a Fabric scope. */
  fabric: FabricApi;
}

/** The job's user, as its handler sees them. */
export interface JobUser {
  tenantId: string;
  /** The user's object id, when Fabric's token carried one. */
  objectId?: string;
  /**
   * An access token for `scopes` (default: the job type's declared scopes) on
   * the user's behalf, from MSAL's cache when it has one. Fails the job
   * (a JobFailure the runner records) with `UserTokenExpired` when the job's
   * stored token has expired, or `AuthUIRequired` (with the scopes to consent
   * and the claims challenge) when the user must act.
   */
  token(scopes?: readonly string[]): Promise<string>;
}

/**
 * One job type's work. Resolving completes the job; throwing a JobFailure
 * fails it with those details; any other throw fails it with JobHandlerError
 * (the stack goes to the log only).
 */
export type JobHandler = (job: Job, context: JobContext) => Promise<void>;

export interface JobFailureDetails {
  errorCode: string;
  message: string;
  /** Default `User`: the input or the user's data made the job fail. */
  source?: ErrorSource;
  /** Default true: running it again as it is will fail again. */
  isPermanent?: boolean;
  /** The contract's extended information (e.g. AuthUIRequired's additional parameters); default none. */
  moreDetails?: ErrorExtendedInformation[];
}

/**
 * Thrown by a handler to fail its job with details Fabric shows the user.
 * `errorCode` is 1 to 128 of letters, digits, `.`, `_`, `-`; `message` is
 * kept to its first 4096 characters. Details that break these rules fail the
 * job with JobHandlerError instead (and say why in the log).
 */
export class JobFailure extends Error {
  readonly details: Required<Omit<JobFailureDetails, 'moreDetails'>> & Pick<JobFailureDetails, 'moreDetails'>;

  constructor(details: JobFailureDetails) {
    super(details.message);
    this.name = 'JobFailure';
    this.details = {
      errorCode: details.errorCode,
      message: details.message,
      source: details.source ?? 'User',
      isPermanent: details.isPermanent ?? true,
      ...(details.moreDetails ? { moreDetails: details.moreDetails } : {}),
    };
  }
}
