import { describe, expect, it } from 'vitest';
import type { ItemHandler } from '../../../src/handlers/itemHandler';
import type { JobHandler } from '../../../src/handlers/jobHandler';
import { HandlerRegistry } from '../../../src/handlers/registry';

const itemHandler: ItemHandler = {};
const jobHandler: JobHandler = async () => undefined;
const otherJobHandler: JobHandler = async () => undefined;

describe('HandlerRegistry', () => {
  const registry = () =>
    new HandlerRegistry()
      .item('Contoso.Forecast', itemHandler)
      .job('Contoso.Forecast', 'calculate', jobHandler)
      .job('Contoso.Forecast', 'export', otherJobHandler);

  it.each([
    ['as registered', 'Contoso.Forecast', 'calculate'],
    ['in lower case', 'contoso.forecast', 'calculate'],
    ['in upper case', 'CONTOSO.FORECAST', 'CALCULATE'],
  ])('finds handlers by type names %s', (_name, itemType, jobType) => {
    expect(registry().findItem(itemType)).toBe(itemHandler);
    expect(registry().findJob(itemType, jobType)).toBe(jobHandler);
  });

  it('tells job types of one item type apart', () => {
    expect(registry().findJob('Contoso.Forecast', 'export')).toBe(otherJobHandler);
  });

  it.each([
    ['an unknown item type', 'Contoso.Other', 'calculate'],
    ['an unknown job type', 'Contoso.Forecast', 'other'],
    ['a job type of another item type', 'Contoso.Other', 'export'],
    ['a pair whose parts run together', 'Contoso.Forecastcalculate', ''],
  ])('finds nothing for %s', (_name, itemType, jobType) => {
    expect(registry().findJob(itemType, jobType)).toBeUndefined();
  });

  it('finds no item handler for an item type that only has job handlers', () => {
    expect(new HandlerRegistry().job('Contoso.Jobs', 'run', jobHandler).findItem('Contoso.Jobs')).toBeUndefined();
  });

  it('refuses a second item handler for a type, in any case', () => {
    expect(() => registry().item('CONTOSO.forecast', {})).toThrow(
      'an item handler for CONTOSO.forecast is already registered',
    );
  });

  it('refuses a second job handler for a pair, in any case, and allows the job type under another item type', () => {
    expect(() => registry().job('contoso.FORECAST', 'Calculate', jobHandler)).toThrow(
      'a job handler for contoso.FORECAST / Calculate is already registered',
    );
    expect(registry().job('Contoso.Other', 'calculate', otherJobHandler).findJob('Contoso.Other', 'calculate')).toBe(
      otherJobHandler,
    );
  });
});
