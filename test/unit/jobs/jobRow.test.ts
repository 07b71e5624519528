import { describe, expect, it } from 'vitest';
import { InvalidJobStateRecordError } from '../../../src/fabric/errors';
import { parseJobRow, rowAnswers, toItemJobInstanceState, toJobEntity } from '../../../src/jobs/jobRow';
import { JOB_NOT_FOUND_STATE } from '../../../src/jobs/lifecycle';
import { contractValidator } from '../../fixtures/contractSchema';

const isJobState = contractValidator('ItemJobInstanceState');

const ROW = {
  partitionKey: 'b14cb7e7-d346-4751-9cfd-8c2767d53111',
  rowKey: '63f77191-432d-4ee6-9c5f-31a1a6987072',
  TenantId: '3c9e4a1b-2222-4222-8222-00000000cccc',
  WorkspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9334',
  ItemType: 'Contoso.FinanceAnalytics.Forecast',
  JobType: 'calculateForecast',
  Status: 'InProgress',
  StartTimeUtc: new Date('2023-12-10T14:41:39.412Z'),
};

describe('row to contract', () => {
  it('maps the seed row to exactly the seed answer', () => {
    const state = toItemJobInstanceState(parseJobRow(ROW));
    expect(JSON.stringify(state)).toBe('{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}');
  });

  it('writes times with milliseconds and Z, whatever the stored precision or offset', () => {
    const state = toItemJobInstanceState(
      parseJobRow({
        ...ROW,
        StartTimeUtc: new Date('2023-12-10T14:41:39Z'),
        EndTimeUtc: '2023-12-10T15:41:39.5+01:00',
      }),
    );
    expect(state.startTimeUtc).toBe('2023-12-10T14:41:39.000Z');
    expect(state.endTimeUtc).toBe('2023-12-10T14:41:39.500Z');
  });

  it('includes error details only when the row has them, and nothing else', () => {
    const errorDetails = {
      errorCode: 'E',
      message: 'm',
      source: 'User',
      moreDetails: [{ errorCode: 'F', message: 'n', additionalParameters: [{ name: 'a', value: 'b' }] }],
    };
    const state = toItemJobInstanceState(
      parseJobRow({ ...ROW, Status: 'Failed', ErrorDetails: JSON.stringify(errorDetails), Timestamp: 'x', etag: 'y' }),
    );
    expect(Object.keys(state)).toEqual(['status', 'startTimeUtc', 'errorDetails']);
    expect(state.errorDetails).toEqual(errorDetails);
    expect(isJobState(state)).toBe(true);
  });

  it('answers the not-found state in the contract shape', () => {
    expect(isJobState(JOB_NOT_FOUND_STATE)).toBe(true);
    expect(JOB_NOT_FOUND_STATE.errorDetails?.errorCode).toBe('JobInstanceNotFound');
  });

  it('round-trips through toJobEntity', () => {
    const record = parseJobRow(ROW);
    expect(parseJobRow(toJobEntity(record))).toEqual(record);
  });
});

describe('corrupt rows', () => {
  it.each([
    ['no TenantId', { TenantId: undefined }, /TenantId is missing/],
    ['a numeric WorkspaceId', { WorkspaceId: 42 }, /WorkspaceId is missing or not a string/],
    ['no ItemType', { ItemType: '' }, /ItemType is missing/],
    ['no JobType', { JobType: undefined }, /JobType is missing/],
    ['no Status', { Status: undefined }, /Status undefined is not a job instance status/],
    ['an unknown Status', { Status: 'Running' }, /Status "Running" is not/],
    ['a Status in the wrong case', { Status: 'inprogress' }, /Status "inprogress" is not/],
    ['a StartTimeUtc that is no date', { StartTimeUtc: 'yesterday' }, /StartTimeUtc is not a date-time/],
    [
      'a StartTimeUtc without an offset (local time)',
      { StartTimeUtc: '2023-12-10 14:41:39' },
      /StartTimeUtc is not a date-time/,
    ],
    ['a TenantId that is not a GUID', { TenantId: 'contoso' }, /TenantId is not a GUID/],
    ['a WorkspaceId that is not a GUID', { WorkspaceId: 'ws-1' }, /WorkspaceId is not a GUID/],
    ['ErrorDetails that is not JSON', { ErrorDetails: '{' }, /ErrorDetails is not JSON/],
    ['ErrorDetails that is a JSON string', { ErrorDetails: '"boom"' }, /not a contract ErrorDetails/],
    ['ErrorDetails without a source', { ErrorDetails: '{"errorCode":"E","message":"m"}' }, /source must be one of/],
    [
      'ErrorDetails with an extra property',
      { ErrorDetails: '{"errorCode":"E","message":"m","source":"User","stack":"x"}' },
      /unknown property "stack"/,
    ],
  ])('rejects a row with %s, naming its keys', (_name, change, problem) => {
    const row: Record<string, unknown> = { ...ROW, ...change };
    try {
      parseJobRow(row);
      throw new Error('expected a rejection');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidJobStateRecordError);
      const detail = (error as InvalidJobStateRecordError).logDetail!;
      expect(detail).toMatch(problem);
      expect(detail).toContain(ROW.partitionKey);
      expect(detail).toContain(ROW.rowKey);
    }
  });

  it('names every problem of a row at once', () => {
    const detail = (() => {
      try {
        parseJobRow({ partitionKey: 'p', rowKey: 'r' });
      } catch (error) {
        return (error as InvalidJobStateRecordError).logDetail!;
      }
      return '';
    })();
    for (const column of ['TenantId', 'WorkspaceId', 'ItemType', 'JobType', 'Status']) expect(detail).toContain(column);
  });
});

describe('rowAnswers', () => {
  const request = {
    tenantId: ROW.TenantId,
    workspaceId: ROW.WorkspaceId,
    itemType: ROW.ItemType,
    jobType: ROW.JobType,
  };

  it('matches its own coordinates, types in any case', () => {
    expect(rowAnswers(ROW, request)).toBe(true);
    expect(rowAnswers(ROW, { ...request, itemType: ROW.ItemType.toUpperCase(), jobType: 'CalculateForecast' })).toBe(
      true,
    );
  });

  it('does not match a row whose owner columns are missing or not strings', () => {
    expect(rowAnswers({ ...ROW, TenantId: undefined }, request)).toBe(false);
    expect(rowAnswers({ ...ROW, WorkspaceId: 42 }, request)).toBe(false);
  });

  it.each([
    ['tenant', { tenantId: '3c9e4a1b-2222-4222-8222-00000000cccd' }],
    ['workspace', { workspaceId: 'e5ef604d-e14f-4a59-9133-75d5a0cb9335' }],
    ['item type', { itemType: 'Contoso.FinanceAnalytics.Forecast2' }],
    ['job type', { jobType: 'calculate' }],
  ])('does not match another %s', (_name, change) => {
    expect(rowAnswers(ROW, { ...request, ...change })).toBe(false);
  });
});
