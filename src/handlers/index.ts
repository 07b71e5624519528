/**
 * The workload's handlers: one line per job type. Add yours here (see the
 * README's handler guide); the framework owns claiming, heartbeats,
 * cancellation and the job's state, a handler owns only its work.
 */
import { calculateForecast } from './forecast';
import { HandlerRegistry } from './registry';

export const handlers = new HandlerRegistry()
  .job('Contoso.FinanceAnalytics.Forecast', 'calculateForecast', calculateForecast);
