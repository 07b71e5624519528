import { isPlainObject } from '../fabric/contract';
import { describeError, StorageUnavailableError } from '../fabric/errors';
import { parseItemDefinition } from '../fabric/toolkitRequests';
import { JobFailure, type Job, type JobContext, type JobHandler } from '../handlers/jobHandler';
import type { HandlerRegistry } from '../handlers/registry';
import type { JobRecord } from '../jobs/jobRow';
import type { JobDecision, JobStateWriter, JobUpdate, VersionedJob } from '../jobs/jobStateWriter';
import { transitionFields } from '../jobs/jobSummary';
import {
  claimJob,
  couldNotStartJob,
  finishJob,
  handlerFailureDetails,
  JOB_HANDLER_ERROR,
  unknownJobTypeDetails,
  watchDelayMs,
  type JobOutcome,
} from '../jobs/lifecycle';
import { JobNotFoundError } from '../jobs/writerErrors';
import { describeUnexpected, forLog } from '../logValue';
import type { RunnerLog } from '../telemetry/log';
import { startHeartbeat } from './heartbeat';
import type { JobMessage, JobWatcher } from './jobQueue';
import { UserDelegation } from './userDelegation';
import { DEFAULT_FABRIC_API_URL, FABRIC_API_SCOPE, fabricApi, type FabricApi } from '../clients/fabricApi';
import { DEFAULT_ONELAKE_ENDPOINT, oneLakeFolder, type OneLakeFolder } from '../clients/oneLake';

/** After the handler ends, the outcome is written with a few more tries than a request gets: it is the job's only record. */
export const OUTCOME_WRITE_ATTEMPTS = 4;
const OUTCOME_RETRY_DELAY_MS = 2000;

export interface JobRunnerOptions {
  /** Pause between two attempts to write the outcome; tests shorten it. */
  outcomeRetryDelayMs?: number;
  /** Sends the watch messages of redelivered messages (absent: a redelivered message that finds its job running just completes). */
  watcher?: JobWatcher;
  /** The job's user in the handler's context (absent: a context whose user has no tokens, for job types without scopes). */
  delegation?: UserDelegation;
  /** Where the handler's OneLake and Fabric clients go (ONELAKE_ENDPOINT, FABRIC_API_URL); default Fabric's own. */
  endpoints?: { oneLake: string; fabricApi: string };
}

/** How the host delivered the message. */
export interface Delivery {
  /** The trigger metadata's dequeueCount: 1 on the first delivery, more once a lease ran out or a run failed. */
  dequeueCount?: number;
}

/**
 * Runs the job a queue message names, at most once: the handler runs only
 * after an ETag-conditional claim (NotStarted → InProgress) succeeded, so a
 * duplicated or redelivered message finds the job claimed and does nothing.
 * While it runs, a heartbeat is written every `heartbeatSeconds`; a heartbeat
 * that finds the row changed (Cancelled, judged lost, deleted) aborts the handler.
 * Every write is a decision of src/jobs/lifecycle.ts.
 *
 * A job's failure is the job's outcome, not the message's: `run` throws only
 * a StorageUnavailableError, the one case where retrying the message helps.
 */
export class JobRunner {
  private readonly outcomeRetryDelayMs: number;
  private readonly watcher?: JobWatcher;
  private readonly delegation: UserDelegation;
  private readonly endpoints: { oneLake: string; fabricApi: string };

  constructor(
    private readonly writer: JobStateWriter,
    private readonly handlers: HandlerRegistry,
    private readonly heartbeatSeconds: number,
    options: JobRunnerOptions = {},
  ) {
    this.outcomeRetryDelayMs = options.outcomeRetryDelayMs ?? OUTCOME_RETRY_DELAY_MS;
    this.watcher = options.watcher;
    this.delegation = options.delegation ?? new UserDelegation(handlers);
    this.endpoints = options.endpoints ?? { oneLake: DEFAULT_ONELAKE_ENDPOINT, fabricApi: DEFAULT_FABRIC_API_URL };
  }

  async run(message: JobMessage, log: RunnerLog, delivery: Delivery = {}): Promise<void> {
    await retryOnlyStorageOutages(() => this.runOnce(message, log, delivery), log);
  }

  /** For a message that landed in the poison queue: the job it names will not start, so say so. */
  async giveUp(message: JobMessage, log: RunnerLog): Promise<void> {
    await retryOnlyStorageOutages(() => this.markCouldNotStart(message, log), log);
  }

  private async runOnce(message: JobMessage, log: RunnerLog, delivery: Delivery): Promise<void> {
    const claimed = await this.claim(message, log, delivery);
    if (!claimed) return;
    const { record } = claimed;
    const handler = this.handlers.findJob(record.itemType, record.jobType);
    const controller = new AbortController();
    // Beats until the outcome is written, so a slow final write is never mistaken for a lost runner.
    const heartbeat = startHeartbeat(this.writer, claimed, this.heartbeatSeconds, controller, log);
    try {
      const outcome: JobOutcome = handler
        ? await runHandler(handler, record, this.contextFor(record, controller.signal, log), log)
        : { status: 'Failed', errorDetails: unknownJobTypeDetails(record) };
      await this.finish(message, outcome, log);
    } finally {
      await heartbeat.stop();
    }
  }

  /** What the handler is given besides its job: the cancellation signal, its log, its user. */
  private contextFor(record: JobRecord, signal: AbortSignal, log: RunnerLog): JobContext {
    const reread = () =>
      this.writer.read(record.itemId, record.jobInstanceId).then(
        ({ record: current }) => current,
        (error: unknown) => {
          if (error instanceof JobNotFoundError) return undefined;
          throw error;
        },
      );
    const lines = { info: log.info, warn: log.warn, error: log.error };
    const user = this.delegation.forJob(record, reread, lines);
    const { endpoints } = this;
    const fabricScopes = this.delegation.scopesFor(record, FABRIC_API_SCOPE);
    let oneLake: OneLakeFolder | undefined;
    let fabric: FabricApi | undefined;
    // Built on first use: a handler that touches neither never loads the Blob SDK.
    return {
      signal,
      log: lines,
      user,
      get oneLake() {
        oneLake ??= oneLakeFolder({
          endpoint: endpoints.oneLake,
          workspaceId: record.workspaceId,
          itemId: record.itemId,
          token: (scopes) => user.token(scopes),
          signal,
        });
        return oneLake;
      },
      get fabric() {
        fabric ??= fabricApi({ baseUrl: endpoints.fabricApi, token: () => user.token(fabricScopes), signal });
        return fabric;
      },
    };
  }

  private async markCouldNotStart(message: JobMessage, log: RunnerLog): Promise<void> {
    const result = await this.update(message, couldNotStartJob(this.heartbeatSeconds));
    if (!result) return;
    logTransition(result, log);
    log.info(
      result.changed
        ? `${result.record.status} (${forLog(result.record.errorDetails?.errorCode)}): its message reached the poison queue`
        : `left ${result.record.status}: its message reached the poison queue`,
    );
  }

  /** NotStarted → InProgress with a first heartbeat; undefined when there is nothing for this message to run. */
  private async claim(message: JobMessage, log: RunnerLog, delivery: Delivery): Promise<VersionedJob | undefined> {
    const result = await this.update(message, claimJob(this.heartbeatSeconds));
    if (!result) return undefined;
    logTransition(result, log);
    if (result.changed && result.record.status === 'InProgress') {
      log.info('InProgress: claimed');
      return result;
    }
    if (result.changed) {
      log.info(`${result.record.status} (${forLog(result.record.errorDetails?.errorCode)}): its runner was lost`);
      return undefined;
    }
    if (await this.keepWatch(message, result, delivery, log)) return undefined;
    log.info(`not run: it is ${result.record.status}`);
    return undefined;
  }

  /**
   * A redelivered message (its lease ran out: perhaps the runner's process
   * died with it) or a watch message that finds the job running with a live
   * heartbeat: the runner may have died a moment ago, and nothing else would
   * notice until a Get. So look again when the job would be judged lost, with
   * a new message hidden until then, and complete this one. A first delivery
   * (a duplicate from a retried Create) only completes. Whether it watched.
   */
  private async keepWatch(message: JobMessage, found: VersionedJob, delivery: Delivery, log: RunnerLog) {
    const redelivered = (delivery.dequeueCount ?? 1) > 1 || message.watch === true;
    if (!this.watcher || !redelivered || found.record.status !== 'InProgress') return false;
    const delayMs = watchDelayMs(found.record, found.clock, this.heartbeatSeconds);
    if (delayMs === undefined) return false;
    const delaySeconds = Math.ceil(delayMs / 1000);
    await this.watcher.watchLater(message, delaySeconds);
    log.info(`not run: it is InProgress with a live heartbeat; keeping watch, looking again in ${delaySeconds} s`);
    return true;
  }

  /** Writes the outcome unless the row has moved on (Cancelled, lost): terminal states never change. */
  private async finish(message: JobMessage, outcome: JobOutcome, log: RunnerLog): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.update(message, finishJob(outcome));
        if (!result) return;
        logTransition(result, log);
        const { errorDetails } = outcome;
        log.info(
          result.changed
            ? errorDetails
              ? `${outcome.status} (${forLog(errorDetails.errorCode)})`
              : outcome.status
            : `the handler ended; the job stays ${result.record.status}`,
        );
        return;
      } catch (error) {
        if (!(error instanceof StorageUnavailableError) || attempt >= OUTCOME_WRITE_ATTEMPTS) throw error;
        log.warn(
          `writing the outcome failed (attempt ${attempt} of ${OUTCOME_WRITE_ATTEMPTS}): ${describeError(error)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, this.outcomeRetryDelayMs));
      }
    }
  }

  /** The writer's update, with a missing row (deleted meanwhile) as undefined. */
  private async update(message: JobMessage, decide: JobDecision): Promise<JobUpdate | undefined> {
    try {
      return await this.writer.update(message.itemId, message.jobInstanceId, decide);
    } catch (error) {
      if (error instanceof JobNotFoundError) return undefined;
      throw error;
    }
  }
}

/** The handler's run as the job's outcome: resolving completes it, a valid JobFailure fails it with its details, anything else with JobHandlerError. */
async function runHandler(
  handler: JobHandler,
  record: JobRecord,
  context: JobContext,
  log: RunnerLog,
): Promise<JobOutcome> {
  try {
    // The handler's log writes lines only: transitions are the runner's.
    await handler(toJob(record), context);
    return { status: 'Completed' };
  } catch (error) {
    if (error instanceof JobFailure) {
      const details = handlerFailureDetails(error.details);
      if (details) return { status: 'Failed', errorDetails: details };
      log.error(
        `the handler threw a JobFailure whose details are not a contract ErrorDetails: ${forLog(error.details.errorCode)}`,
      );
    } else {
      log.error(`the handler threw: ${describeUnexpected(error)}`);
    }
    return { status: 'Failed', errorDetails: JOB_HANDLER_ERROR };
  }
}

/**
 * A message is worth retrying only when storage could not be reached. Any
 * other failure (a corrupt row, a row that kept changing) would fail the same
 * way again: it is logged and the message completed.
 */
async function retryOnlyStorageOutages(work: () => Promise<void>, log: RunnerLog): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (error instanceof StorageUnavailableError) throw error;
    log.error(`the message is dropped, retrying it cannot help: ${describeError(error)}`);
  }
}

/** One JobTransition summary line for a write of the runner's that changed the job. */
function logTransition(update: JobUpdate, log: RunnerLog): void {
  const fields = transitionFields(update);
  if (fields) log.transition(fields);
}

/** What the handler is given: the row's ids and owner, its creation payload, and for the toolkit's jobs what that contract sent. */
export function toJob(record: JobRecord): Job {
  const payload = parseStored(record.creationPayload);
  const { workspaceId, itemType, itemId, jobType, jobInstanceId, tenantId, userObjectId, invokeType } = record;
  const job: Job = {
    workspaceId,
    itemType,
    itemId,
    jobType,
    jobInstanceId,
    tenantId,
    userObjectId,
    invokeType,
    creationPayload: isPlainObject(payload) ? payload : {},
    contract: record.contract ?? 'v1',
  };
  if (record.contract === 'toolkit' && record.creationPayload !== undefined) job.executionData = payload;
  const definition = parseStored(record.definition);
  if (isPlainObject(definition)) {
    try {
      job.definition = parseItemDefinition(definition);
    } catch {
      // Checked at Create; a row written by another tool is handed over without it.
    }
  }
  return job;
}

/** Stored JSON text; undefined when absent or not JSON (written by another tool). */
function parseStored(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
