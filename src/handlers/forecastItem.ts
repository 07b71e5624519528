import { ItemPayloadError, type ItemDefinition, type ItemHandler } from './itemHandler';

const DEFAULT_HORIZON_MONTHS = 12;
const MAX_HORIZON_MONTHS = 120;
/** The part of a toolkit definition that holds the forecast's settings. */
export const FORECAST_SETTINGS_PART = 'forecast.json';

/**
 * The demo item type Contoso.FinanceAnalytics.Forecast. Its payload (v1) or
 * the `forecast.json` part of its definition (the Extensibility Toolkit) may
 * set `horizonMonths` (a whole number from 1 to 120); the editor always gets
 * one (default 12). Deleting and restoring it only says so in the log: a real
 * item type releases and re-acquires what it holds there.
 */
export const forecastItem: ItemHandler = {
  validateCreation: (payload) => checkHorizon(payload),
  validateUpdate: (payload) => checkHorizon(payload),
  editorPayload: (item) => ({ horizonMonths: DEFAULT_HORIZON_MONTHS, ...item.payload }),
  validateDefinition: (definition) => checkHorizon(settingsOf(definition)),
  onDeleted: (item, kind, { log }) => log.info(`forecast ${item.itemId}: ${kind} delete, nothing held to release`),
  onRestored: (item, { log }) => log.info(`forecast ${item.itemId}: restored`),
};

/** The forecast.json part as a JSON object; `{}` without one. */
function settingsOf(definition: ItemDefinition | undefined): Record<string, unknown> {
  const part = definition?.parts.find((p) => p.path === FORECAST_SETTINGS_PART);
  if (!part) return {};
  if (!part.bytes) {
    throw new ItemPayloadError('InvalidForecastDefinition', `${FORECAST_SETTINGS_PART} must be InlineBase64.`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(Buffer.from(part.bytes).toString('utf8'));
  } catch {
    settings = undefined;
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new ItemPayloadError('InvalidForecastDefinition', `${FORECAST_SETTINGS_PART} must hold a JSON object.`);
  }
  return settings as Record<string, unknown>;
}

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
