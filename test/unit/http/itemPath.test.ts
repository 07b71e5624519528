import { describe, expect, it } from 'vitest';
import { InvalidParameterError } from '../../../src/fabric/errors';
import { ITEM_ROUTE, itemPath, parseItemPath } from '../../../src/http/itemPath';
import { JOB_INSTANCE_ROUTE, jobInstancePath } from '../../../src/http/jobPath';

/** parseJobPath, which runs parseItemPath first, is covered by test/unit/routing.test.ts and hostileInput.test.ts. */
const ITEM = {
  workspaceId: 'E5EF604D-E14F-4A59-9133-75D5A0CB9334',
  itemType: 'Contoso.FinanceAnalytics.Forecast',
  itemId: 'B14CB7E7-D346-4751-9CFD-8C2767D53111',
};

describe('parseItemPath', () => {
  it('lower-cases the GUIDs, keeps the item type as sent, and keeps nothing else of the route values', () => {
    expect(parseItemPath({ ...ITEM, jobType: 'x', extra: 'y' })).toEqual({
      workspaceId: ITEM.workspaceId.toLowerCase(),
      itemType: ITEM.itemType,
      itemId: ITEM.itemId.toLowerCase(),
    });
  });

  it.each([
    ['workspaceId', { workspaceId: '{e5ef604d-e14f-4a59-9133-75d5a0cb9334}' }],
    ['itemType', { itemType: 'Contoso Forecast' }],
    ['itemType', { itemType: undefined }],
    ['itemId', { itemId: 'b14cb7e7d3464751' }],
    ['workspaceId', { workspaceId: 'x', itemType: '', itemId: 'y' }],
    ['itemType', { itemType: 'a/b', itemId: 'y' }],
  ])('refuses naming %s, the first bad value in path order', (name, change) => {
    const parse = () => parseItemPath({ ...ITEM, ...change });
    expect(parse).toThrow(InvalidParameterError);
    expect(parse).toThrow(`The parameter '${name}' is invalid`);
  });
});

describe('the path builders', () => {
  const JOB = { ...ITEM, jobType: 'calculateForecast', jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072' };

  it('fill every placeholder of the route with its value', () => {
    expect(itemPath(ITEM)).toBe(`/workspaces/${ITEM.workspaceId}/items/${ITEM.itemType}/${ITEM.itemId}`);
    expect(jobInstancePath(JOB)).toBe(`${itemPath(ITEM)}/jobTypes/${JOB.jobType}/instances/${JOB.jobInstanceId}`);
  });

  it.each([
    ['itemPath', ITEM_ROUTE, itemPath(ITEM)],
    ['jobInstancePath', JOB_INSTANCE_ROUTE, jobInstancePath(JOB)],
  ])('%s follows its route template, segment for segment', (_name, route, path) => {
    const templates = route.split('/');
    const segments = path.slice(1).split('/');
    expect(segments).toHaveLength(templates.length);
    templates.forEach((template, i) => {
      const name = /^\{(\w+)\}$/.exec(template)?.[1];
      expect(segments[i]).toBe(name ? JOB[name as keyof typeof JOB] : template);
    });
  });
});
