/**
 * The workload's handlers: one line per item type and per job type. Add yours here (see the
 * README's handler guide); the framework owns claiming, heartbeats,
 * cancellation and the job's state, a handler owns only its work.
 */
import { calculateForecast, FORECAST_SCOPES } from './forecast';
import { forecastItem } from './forecastItem';
import { HandlerRegistry } from './registry';

export const handlers = new HandlerRegistry()
  .item('Contoso.FinanceAnalytics.Forecast', forecastItem)
  .job('Contoso.FinanceAnalytics.Forecast', 'calculateForecast', calculateForecast, { scopes: FORECAST_SCOPES });
