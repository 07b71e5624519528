import { describeError } from '../fabric/errors';
import type { JobStateWriter, VersionedJob } from '../jobs/jobStateWriter';
import { heartbeatJob } from '../jobs/lifecycle';
import { JobNotFoundError } from '../jobs/writerErrors';
import type { RunnerLog } from '../telemetry/log';

export interface Heartbeat {
  /** Stops beating and waits for a beat in flight. */
  stop(): Promise<void>;
}

/**
 * A heartbeat every `intervalSeconds`, one at a time, each conditional on the
 * ETag of the last. When the row is no longer InProgress (a Cancel, or someone
 * judged this runner lost) or is gone (DeleteItem), `controller` is aborted
 * and the beating stops. A beat that cannot reach storage is logged and tried
 * again at the next interval.
 */
export function startHeartbeat(
  writer: JobStateWriter,
  claimed: VersionedJob,
  intervalSeconds: number,
  controller: AbortController,
  log: RunnerLog,
): Heartbeat {
  let known = claimed;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const abort = (why: string) => {
    log.info(why);
    controller.abort();
    stopped = true;
  };
  const beat = async () => {
    try {
      known = await writer.update(known.record.itemId, known.record.jobInstanceId, heartbeatJob, known);
      if (known.record.status !== 'InProgress') {
        abort(`${known.record.status}: the row changed while the handler ran; aborting it`);
      }
    } catch (error) {
      // DeleteItem cancels an item's jobs and then deletes their rows: a row gone is a cancellation too.
      if (error instanceof JobNotFoundError) return abort('the row was deleted while the handler ran; aborting it');
      log.warn(`heartbeat failed, trying again in ${intervalSeconds} s: ${describeError(error)}`);
    }
  };
  let timer: NodeJS.Timeout;
  const schedule = () => {
    timer = setTimeout(() => {
      inFlight = beat().then(() => {
        if (!stopped) schedule();
      });
    }, intervalSeconds * 1000);
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
