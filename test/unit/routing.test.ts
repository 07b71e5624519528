import { describe, expect, it } from 'vitest';
import { matchRoutes } from '../../dev/localHost';

const matchRoute = (routes: Parameters<typeof matchRoutes>[0], path: string) => matchRoutes(routes, path)[0];
import { JOB_INSTANCE_ROUTE, parseJobPath } from '../../src/http/jobPath';
import { InvalidParameterError } from '../../src/fabric/errors';
import type { RouteDefinition } from '../../src/http/routes';

const route: RouteDefinition = { name: 'job', methods: ['GET'], route: JOB_INSTANCE_ROUTE, handler: async () => ({}) };
const PATH = '/api/workspaces/W/items/T/I/jobTypes/J/instances/X';

describe('matchRoute (local host)', () => {
  it('binds every route value', () => {
    expect(matchRoute([route], PATH)?.params).toEqual({
      workspaceId: 'W',
      itemType: 'T',
      itemId: 'I',
      jobType: 'J',
      jobInstanceId: 'X',
    });
  });

  it('matches literal segments, the api prefix included, in any case', () => {
    expect(
      matchRoute(
        [route],
        PATH.replace('/api/', '/API/').replace('/items/', '/itemS/').replace('/jobTypes/', '/jobtypes/'),
      ),
    ).toBeDefined();
  });

  it('decodes percent-encoded values and passes invalid encodings through for validation', () => {
    expect(matchRoute([route], PATH.replace('/T/', '/a%2Eb/'))?.params.itemType).toBe('a.b');
    expect(matchRoute([route], PATH.replace('/T/', '/%E0%A4%A/'))?.params.itemType).toBe('%E0%A4%A');
  });

  it.each([
    ['a missing segment', '/api/workspaces/W/items/T/I/jobTypes/J/instances'],
    ['an extra segment', `${PATH}/cancel`],
    ['an empty segment', PATH.replace('/T/', '//')],
    ['another prefix', PATH.replace('/api/', '/v1/')],
    ['another literal', PATH.replace('/items/', '/things/')],
  ])('does not match %s', (_name, path) => {
    expect(matchRoute([route], path)).toBeUndefined();
  });
});

describe('parseJobPath', () => {
  const good = {
    workspaceId: 'E5EF604D-E14F-4A59-9133-75D5A0CB9334',
    itemType: 'Contoso.FinanceAnalytics.Forecast',
    itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
    jobType: 'calculate_forecast-2',
    jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a6987072',
  };

  it('lower-cases GUIDs and keeps type names as sent', () => {
    expect(parseJobPath(good)).toEqual({ ...good, workspaceId: good.workspaceId.toLowerCase() });
  });

  it('accepts type names of 1 and of 256 characters', () => {
    expect(parseJobPath({ ...good, itemType: 'x', jobType: 'y'.repeat(256) }).jobType).toHaveLength(256);
  });

  it.each([
    ['workspaceId', { workspaceId: undefined }],
    ['itemId', { itemId: 'b14cb7e7-d346-4751-9cfd-8c2767d5311' }],
    ['jobInstanceId', { jobInstanceId: '63f77191-432d-4ee6-9c5f-31a1a698707g' }],
    ['itemType', { itemType: '' }],
    ['itemType', { itemType: 'a/b' }],
    ['jobType', { jobType: 'y'.repeat(257) }],
    ['jobType', { jobType: 'calc forecast' }],
  ])('rejects a bad %s, naming it', (name, change) => {
    try {
      parseJobPath({ ...good, ...change });
      throw new Error('expected a rejection');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidParameterError);
      expect((error as InvalidParameterError).messageParameters).toEqual([name]);
    }
  });

  it('reports the first bad parameter in path order', () => {
    expect(() => parseJobPath({ ...good, workspaceId: 'x', jobInstanceId: 'y' })).toThrow(/'workspaceId'/);
  });
});
