import { errorDetailsProblems, type ErrorDetails, type JobInstanceStatus } from '../fabric/contract';
import { describeUnexpected, forLog } from '../logValue';
import { FabricError, StorageUnavailableError } from '../fabric/errors';
import { JobFailure, type Job, type JobHandler } from '../handlers/jobHandler';
import type { RunnerLog } from '../http/requestLog';
import { transitionFields } from '../telemetry/jobSummary';
import type { HandlerRegistry } from '../handlers/registry';
import { markLostRunner } from './jobInstances';
import type { JobMessage } from './jobQueue';
import type { JobRecord } from './jobRow';
import type { JobStateWriter, VersionedJob } from './jobStateWriter';
import { applyTransition } from './jobTransitions';
import { JobNotFoundError } from './writerErrors';

export const JOB_HANDLER_ERROR: ErrorDetails = Object.freeze({
  errorCode: 'JobHandlerError',
  message: 'The job failed with an unexpected error.',
  source: 'System',
  isPermanent: false,
});

export const JOB_COULD_NOT_START: ErrorDetails = Object.freeze({
  errorCode: 'JobCouldNotStart',
  message: 'The job could not be started: its message failed repeatedly. Run it again.',
  source: 'System',
  isPermanent: false,
});

/** After the handler ends, the outcome is written with a few more tries than a request gets: it is the job's only record. */
const OUTCOME_WRITE_ATTEMPTS = 4;
const OUTCOME_RETRY_DELAY_MS = 2000;

interface Outcome {
  status: Extract<JobInstanceStatus, 'Completed' | 'Failed'>;
  errorDetails?: ErrorDetails;
}

/**
 * Runs the job a queue message names, at most once: the handler runs only
 * after an ETag-conditional claim (NotStarted → InProgress) succeeded, so a
 * duplicated or redelivered message finds the job claimed and does nothing.
 * While it runs, a heartbeat is written every `heartbeatSeconds`; a heartbeat
 * that finds the row changed (Cancelled, or judged lost) aborts the handler.
 *
 * A job's failure is the job's outcome, not the message's: `run` throws only
 * a StorageUnavailableError, the one case where retrying the message helps.
 */
export class JobRunner {
  constructor(
    private readonly writer: JobStateWriter,
    private readonly handlers: HandlerRegistry,
    private readonly heartbeatSeconds: number,
  ) {}

  async run(message: JobMessage, log: RunnerLog): Promise<void> {
    await retryOnlyStorageOutages(() => this.runOnce(message, log), log);
  }

  /** For a message that landed in the poison queue: the job it names will not start, so say so. */
  async giveUp(message: JobMessage, log: RunnerLog): Promise<void> {
    await retryOnlyStorageOutages(() => this.markCouldNotStart(message, log), log);
  }

  private async runOnce(message: JobMessage, log: RunnerLog): Promise<void> {
    const claimed = await this.claim(message, log);
    if (!claimed) return;
    const { record } = claimed;
    const handler = this.handlers.findJob(record.itemType, record.jobType);
    const controller = new AbortController();
    // Beats until the outcome is written, so a slow final write is never mistaken for a lost runner.
    const heartbeat = this.startHeartbeat(claimed, controller, log);
    try {
      const outcome = handler
        ? await this.runHandler(handler, record, controller.signal, log)
        : { status: 'Failed' as const, errorDetails: unknownJobType(record) };
      await this.finish(message, outcome, log);
    } finally {
      await heartbeat.stop();
    }
  }

  private async markCouldNotStart(message: JobMessage, log: RunnerLog): Promise<void> {
    const lost = markLostRunner(this.heartbeatSeconds);
    const result = await this.update(message, (current, now) =>
      current.status === 'NotStarted'
        ? applyTransition(current, 'Failed', now, JOB_COULD_NOT_START)
        : lost(current, now),
    );
    if (result) logTransition(result, log);
    if (result?.changed)
      log.info(
        `${result.record.status} (${forLog(result.record.errorDetails?.errorCode)}): its message reached the poison queue`,
      );
    else if (result) log.info(`left ${result.record.status}: its message reached the poison queue`);
  }

  /** NotStarted → InProgress with a first heartbeat; undefined when there is nothing for this message to run. */
  private async claim(message: JobMessage, log: RunnerLog): Promise<VersionedJob | undefined> {
    const lost = markLostRunner(this.heartbeatSeconds);
    const result = await this.update(message, (current, now) =>
      current.status === 'NotStarted'
        ? { ...applyTransition(current, 'InProgress', now), heartbeatUtc: now }
        : lost(current, now),
    );
    if (!result) return undefined;
    logTransition(result, log);
    if (result.changed && result.record.status === 'InProgress') {
      log.info('InProgress: claimed');
      return result;
    }
    log.info(
      result.changed
        ? `${result.record.status} (${forLog(result.record.errorDetails?.errorCode)}): its runner was lost`
        : `not run: it is ${result.record.status}`,
    );
    return undefined;
  }

  private async runHandler(
    handler: JobHandler,
    record: JobRecord,
    signal: AbortSignal,
    log: RunnerLog,
  ): Promise<Outcome> {
    try {
      // The handler's log writes lines only: transitions are the runner's.
      await handler(toJob(record), { signal, log: { info: log.info, warn: log.warn, error: log.error } });
      return { status: 'Completed' };
    } catch (error) {
      if (error instanceof JobFailure) {
        const details = storableDetails(error);
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
   * A heartbeat every `heartbeatSeconds`, one at a time, each conditional on
   * the ETag of the last. When the row is no longer InProgress (a Cancel, or
   * someone judged this runner lost), the handler's signal is aborted.
   * A heartbeat that cannot reach storage is logged and tried again next time.
   */
  private startHeartbeat(
    claimed: VersionedJob,
    controller: AbortController,
    log: RunnerLog,
  ): { stop(): Promise<void> } {
    let known = claimed;
    let stopped = false;
    let inFlight: Promise<void> = Promise.resolve();
    const beat = async () => {
      try {
        const result = await this.writer.update(
          known.record.itemId,
          known.record.jobInstanceId,
          (current, now) => (current.status === 'InProgress' ? { ...current, heartbeatUtc: now } : undefined),
          known,
        );
        known = result;
        if (result.record.status !== 'InProgress') {
          log.info(`${result.record.status}: the row changed while the handler ran; aborting it`);
          controller.abort();
          stopped = true;
        }
      } catch (error) {
        if (error instanceof JobNotFoundError) {
          // DeleteItem cancels an item's jobs and then deletes their rows: a row gone is a cancellation too.
          log.info('the row was deleted while the handler ran; aborting it');
          controller.abort();
          stopped = true;
          return;
        }
        log.warn(`heartbeat failed, trying again in ${this.heartbeatSeconds} s: ${describe(error)}`);
      }
    };
    let timer: NodeJS.Timeout;
    const schedule = () => {
      timer = setTimeout(() => {
        inFlight = beat().then(() => {
          if (!stopped) schedule();
        });
      }, this.heartbeatSeconds * 1000);
    };
    schedule();
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(timer);
        await inFlight;
      },
    };
  }

  /** Writes the outcome unless the row has moved on (Cancelled, lost): terminal states never change. */
  private async finish(message: JobMessage, outcome: Outcome, log: RunnerLog): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.update(message, (current, now) =>
          current.status === 'InProgress'
            ? applyTransition(current, outcome.status, now, outcome.errorDetails)
            : undefined,
        );
        if (result) logTransition(result, log);
        if (result?.changed)
          log.info(
            outcome.errorDetails ? `${outcome.status} (${forLog(outcome.errorDetails.errorCode)})` : outcome.status,
          );
        else if (result) log.info(`the handler ended; the job stays ${result.record.status}`);
        return;
      } catch (error) {
        if (!(error instanceof StorageUnavailableError) || attempt >= OUTCOME_WRITE_ATTEMPTS) throw error;
        log.warn(`writing the outcome failed (attempt ${attempt} of ${OUTCOME_WRITE_ATTEMPTS}): ${describe(error)}`);
        await new Promise((resolve) => setTimeout(resolve, OUTCOME_RETRY_DELAY_MS));
      }
    }
  }

  /** The writer's update, with a missing row (deleted meanwhile) as undefined. */
  private async update(message: JobMessage, decide: Parameters<JobStateWriter['update']>[2]) {
    try {
      return await this.writer.update(message.itemId, message.jobInstanceId, decide);
    } catch (error) {
      if (error instanceof JobNotFoundError) return undefined;
      throw error;
    }
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
    log.error(`the message is dropped, retrying it cannot help: ${describe(error)}`);
  }
}

/** One JobTransition summary line for a write of the runner's that changed the job. */
function logTransition(update: Parameters<typeof transitionFields>[0], log: RunnerLog): void {
  const fields = transitionFields(update);
  if (fields) log.transition(fields);
}

function toJob(record: JobRecord): Job {
  let creationPayload: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(record.creationPayload ?? '{}');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      creationPayload = parsed as Record<string, unknown>;
  } catch {
    // Written by another tool: the handler gets an empty payload rather than none.
  }
  const { workspaceId, itemType, itemId, jobType, jobInstanceId, tenantId, userObjectId, invokeType } = record;
  return { workspaceId, itemType, itemId, jobType, jobInstanceId, tenantId, userObjectId, invokeType, creationPayload };
}

/** Longest message kept from a handler's JobFailure: the details live in one Table property beside the rest of the row. */
export const MAX_FAILURE_MESSAGE_LENGTH = 4096;

/** The JobFailure's details as the contract's ErrorDetails, known fields only; undefined when they are not valid. */
function storableDetails(failure: JobFailure): ErrorDetails | undefined {
  const { errorCode, message, source, isPermanent } = failure.details;
  const details = {
    errorCode,
    message: typeof message === 'string' ? message.slice(0, MAX_FAILURE_MESSAGE_LENGTH) : message,
    source,
    isPermanent,
  };
  const valid =
    errorDetailsProblems(details).length === 0 &&
    typeof errorCode === 'string' &&
    /^[A-Za-z0-9._-]{1,128}$/.test(errorCode);
  return valid ? (details as ErrorDetails) : undefined;
}

function unknownJobType(record: JobRecord): ErrorDetails {
  return {
    errorCode: 'UnknownJobType',
    message: `This backend has no job handler for job type '${record.jobType}' of item type '${record.itemType}'.`,
    source: 'System',
    isPermanent: true,
  };
}

function describe(error: unknown): string {
  if (error instanceof FabricError) return error.logDetail ?? error.message;
  return error instanceof Error ? `${error.name}: ${forLog(error.message, 300)}` : forLog(String(error), 300);
}
