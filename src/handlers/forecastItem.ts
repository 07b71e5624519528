import { ItemPayloadError, type ItemHandler } from './itemHandler';

const DEFAULT_HORIZON_MONTHS = 12;
const MAX_HORIZON_MONTHS = 120;

/**
 * The demo item type Contoso.FinanceAnalytics.Forecast. Its payload may set
 * `horizonMonths` (a whole number from 1 to 120); the editor always gets one
 * (default 12).
 */
export const forecastItem: ItemHandler = {
  validateCreation: (payload) => checkHorizon(payload),
  validateUpdate: (payload) => checkHorizon(payload),
  editorPayload: (item) => ({ horizonMonths: DEFAULT_HORIZON_MONTHS, ...item.payload }),
};

function checkHorizon({ horizonMonths }: Record<string, unknown>): void {
  if (horizonMonths === undefined) return;
  if (
    !Number.isInteger(horizonMonths) ||
    (horizonMonths as number) < 1 ||
    (horizonMonths as number) > MAX_HORIZON_MONTHS
  ) {
    throw new ItemPayloadError(
      'InvalidForecastHorizon',
      `horizonMonths must be a whole number from 1 to ${MAX_HORIZON_MONTHS}.`,
    );
  }
}
