/**
 * The job handlers `npm run bench` builds its in-process app with: the app's
 * own registrations (src/handlers/index.ts), and beside them the demo job
 * registered again under another name without scopes. Create of that job
 * type does what Create did before job types acted for their users (no token
 * exchange, nothing sealed): the work the Create floors stand for, and what
 * the Create of the demo job type, which declares OneLake's scope, is
 * compared with.
 */
import { calculateForecast, FORECAST_SCOPES } from '../src/handlers/forecast';
import { forecastItem } from '../src/handlers/forecastItem';
import { HandlerRegistry } from '../src/handlers/registry';
import { DEMO_JOB } from './devSettings';

/** The demo job without scopes: never run by the bench (its messages go to a queue no runner reads). */
export const UNSCOPED_JOB_TYPE = 'calculateForecastWithoutScopes';

export const benchHandlers = new HandlerRegistry()
  .item(DEMO_JOB.itemType, forecastItem)
  .job(DEMO_JOB.itemType, DEMO_JOB.jobType, calculateForecast, { scopes: FORECAST_SCOPES })
  .job(DEMO_JOB.itemType, UNSCOPED_JOB_TYPE, calculateForecast);
