import { describe, expect, it } from 'vitest';
import { forecastItem } from '../../../src/handlers/forecastItem';
import { ItemPayloadError, type Item } from '../../../src/handlers/itemHandler';

const ITEM: Item = {
  workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  tenantId: '3c9e4a1b-2222-4222-8222-00000000cccc',
  displayName: 'Q3',
  payload: {},
};

const VALIDATORS = [
  ['validateCreation', forecastItem.validateCreation!],
  ['validateUpdate', forecastItem.validateUpdate!],
] as const;

describe.each(VALIDATORS)('forecastItem.%s', (_name, validate) => {
  it.each([
    ['no horizonMonths', {}],
    ['1 month', { horizonMonths: 1 }],
    ['120 months', { horizonMonths: 120 }],
    ['a whole number written with a fraction part', { horizonMonths: 12.0 }],
    ['other properties', { horizonMonths: 6, note: 'kept' }],
  ])('accepts %s', (_label, payload) => {
    expect(() => validate(payload, ITEM)).not.toThrow();
  });

  it.each([
    ['0', 0],
    ['121', 121],
    ['-1', -1],
    ['a fraction', 1.5],
    ['a string', '12'],
    ['null', null],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('refuses horizonMonths %s with InvalidForecastHorizon', (_label, horizonMonths) => {
    let error: unknown;
    try {
      validate({ horizonMonths }, ITEM);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ItemPayloadError);
    expect(error).toMatchObject({
      status: 400,
      errorCode: 'InvalidForecastHorizon',
      message: 'horizonMonths must be a whole number from 1 to 120.',
    });
  });
});

describe('forecastItem.editorPayload', () => {
  it.each([
    ['the default horizon when none is stored', {}, { horizonMonths: 12 }],
    ['the stored horizon over the default', { horizonMonths: 3 }, { horizonMonths: 3 }],
    ['every stored property', { horizonMonths: 3, note: 'n' }, { horizonMonths: 3, note: 'n' }],
    ['the default beside other stored properties', { note: 'n' }, { horizonMonths: 12, note: 'n' }],
  ])('gives %s', async (_label, payload, expected) => {
    expect(await forecastItem.editorPayload!({ ...ITEM, payload })).toEqual(expected);
  });
});
