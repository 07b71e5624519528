import { ONELAKE_SCOPE, OneLakeError } from '../clients/oneLake';
import { JobFailure, type JobHandler } from './jobHandler';

const DEFAULT_DURATION_SECONDS = 20;
const MAX_DURATION_SECONDS = 3600;
/** Small steps, so a cancellation stops the work within this long. */
const STEP_MS = 250;

/** What the demo asks for on its user's behalf: OneLake, where it writes its result. */
export const FORECAST_SCOPES = [ONELAKE_SCOPE];

/** Where the demo writes each run's result, in its item's OneLake folder. */
export const forecastPath = (jobInstanceId: string) => `Files/forecasts/${jobInstanceId}.json`;

/**
 * The demo job of item type Contoso.FinanceAnalytics.Forecast. Its creation
 * payload steers it: `durationSeconds` (0 to 3600, default 20) of simulated
 * work, and `failWith: { errorCode, message }` to fail with those details.
 * It writes its result to `Files/forecasts/{jobInstanceId}.json` in its
 * item's OneLake folder, as the user (it is registered with OneLake's scope).
 */
export const calculateForecast: JobHandler = async (job, { signal, log, oneLake }) => {
  const { durationSeconds = DEFAULT_DURATION_SECONDS, failWith } = job.creationPayload;
  if (typeof durationSeconds !== 'number' || !(durationSeconds >= 0 && durationSeconds <= MAX_DURATION_SECONDS)) {
    throw new JobFailure({
      errorCode: 'InvalidCreationPayload',
      message: `durationSeconds must be a number from 0 to ${MAX_DURATION_SECONDS}.`,
    });
  }
  log.info(`forecasting for ${durationSeconds} s`);
  const started = new Date();
  const end = Date.now() + durationSeconds * 1000;
  while (!signal.aborted && Date.now() < end) {
    await sleep(Math.min(STEP_MS, end - Date.now()), signal);
  }
  if (signal.aborted) {
    log.info('cancelled; stopping');
    return;
  }
  if (failWith !== undefined) {
    const { errorCode, message } = (failWith ?? {}) as Record<string, unknown>;
    if (typeof errorCode !== 'string' || typeof message !== 'string' || errorCode === '') {
      throw new JobFailure({
        errorCode: 'InvalidCreationPayload',
        message: 'failWith must be { "errorCode": "…", "message": "…" }.',
      });
    }
    throw new JobFailure({ errorCode, message });
  }
  const path = forecastPath(job.jobInstanceId);
  try {
    await oneLake.writeJson(path, {
      itemId: job.itemId,
      jobInstanceId: job.jobInstanceId,
      startedUtc: started.toISOString(),
      completedUtc: new Date().toISOString(),
      forecast: [{ period: 'next', value: 42 }],
    });
  } catch (error) {
    if (!(error instanceof OneLakeError)) throw error;
    throw new JobFailure({
      errorCode: 'ForecastNotSaved',
      message: `The forecast could not be written to the item's OneLake folder (${error.message}).`,
      source: error.status === 403 || error.status === 404 ? 'User' : 'System',
      isPermanent: false,
    });
  }
  log.info(`wrote ${path} to the item's OneLake folder`);
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}
