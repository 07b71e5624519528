import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorDetailsProblems, isErrorDetails, JOB_INSTANCE_STATUSES } from '../../../src/fabric/contract';
import { toErrorResponse } from '../../../src/fabric/responses';
import {
  AuthError,
  InternalError,
  InvalidJobStateRecordError,
  InvalidParameterError,
  SigningKeysUnavailableError,
  StorageUnavailableError,
} from '../../../src/fabric/errors';
import { contractValidator, SWAGGER_PATH } from '../../fixtures/contractSchema';

const schemaSaysErrorDetails = contractValidator('ErrorDetails');
const schemaSaysErrorResponse = contractValidator('ErrorResponse');

const TEAM_COPY = join(__dirname, '..', '..', '..', '..', 'shared', 'contract', 'workload-api-v1.swagger.json');

describe('the vendored contract', () => {
  // The team's shared folder sits beside the project on our machines and in CI, not in a user's clone.
  it.skipIf(!existsSync(TEAM_COPY))('is identical to the team copy', () => {
    expect(readFileSync(SWAGGER_PATH, 'utf8')).toBe(readFileSync(TEAM_COPY, 'utf8'));
  });

  it('has the statuses we know', () => {
    const swagger = JSON.parse(readFileSync(SWAGGER_PATH, 'utf8'));
    expect(swagger.definitions.JobInstanceStatus.enum).toEqual([...JOB_INSTANCE_STATUSES]);
  });
});

describe('errorDetailsProblems agrees with the swagger schema', () => {
  const samples: unknown[] = [
    { errorCode: 'E', message: 'm', source: 'System' },
    { errorCode: 'E', message: 'm', source: 'User', isPermanent: true, messageParameters: ['a'] },
    {
      errorCode: 'E',
      message: 'm',
      source: 'External',
      moreDetails: [
        { errorCode: 'F', message: 'n', messageParameters: ['x'], additionalParameters: [{ name: 'k', value: 'v' }] },
      ],
    },
    { errorCode: 'E', message: 'm' },
    { errorCode: 'E', message: 'm', source: 'Elsewhere' },
    { errorCode: 1, message: 'm', source: 'User' },
    { errorCode: 'E', message: 'm', source: 'User', isPermanent: 'yes' },
    { errorCode: 'E', message: 'm', source: 'User', messageParameters: [1] },
    { errorCode: 'E', message: 'm', source: 'User', extra: 1 },
    { errorCode: 'E', message: 'm', source: 'User', moreDetails: {} },
    { errorCode: 'E', message: 'm', source: 'User', moreDetails: [{ errorCode: 'F' }] },
    { errorCode: 'E', message: 'm', source: 'User', moreDetails: [{ errorCode: 'F', message: 'n', source: 'User' }] },
    {
      errorCode: 'E',
      message: 'm',
      source: 'User',
      moreDetails: [{ errorCode: 'F', message: 'n', additionalParameters: [{ name: 'k' }] }],
    },
    {
      errorCode: 'E',
      message: 'm',
      source: 'User',
      moreDetails: [{ errorCode: 'F', message: 'n', additionalParameters: [{ name: 'k', value: 'v', x: 1 }] }],
    },
    [],
    null,
    'E',
  ];
  it.each(samples.map((s) => [JSON.stringify(s), s]))('%s', (_name, sample) => {
    expect(isErrorDetails(sample)).toBe(schemaSaysErrorDetails(sample));
  });

  it('explains each problem', () => {
    expect(errorDetailsProblems({ errorCode: 'E', source: 'Nope', extra: 1 })).toEqual([
      'ErrorDetails has an unknown property "extra"',
      'ErrorDetails.message must be a string',
      'ErrorDetails.source must be one of System, User, External',
    ]);
  });
});

describe('toErrorResponse', () => {
  it.each([
    [new InvalidParameterError('itemId', 'it must be a GUID'), 400, 'InvalidParameter', 'User', true],
    [new AuthError('test.rule', 'secret reason'), 401, 'AuthError', 'External', false],
    [new StorageUnavailableError('detail'), 503, 'StorageUnavailable', 'System', false],
    [new SigningKeysUnavailableError('detail', 10), 503, 'SigningKeysUnavailable', 'System', false],
    [new InvalidJobStateRecordError('detail'), 500, 'InvalidJobStateRecord', 'System', false],
    [new InternalError('detail'), 500, 'InternalError', 'System', false],
  ] as const)('turns %s into the row of the error table', (error, status, errorCode, source, isPermanent) => {
    const response = toErrorResponse(error);
    const body = JSON.parse(response.body as string);
    expect(response.status).toBe(status);
    expect(body).toMatchObject({ errorCode, source, isPermanent });
    expect(schemaSaysErrorResponse(body)).toBe(true);
    expect(response.body).not.toContain('detail');
    expect(response.body).not.toContain('secret reason');
  });

  it('hides everything about an unexpected error', () => {
    const response = toErrorResponse(
      new TypeError('Cannot read properties of undefined (reading "x") at /app/src/secret.ts:1'),
    );
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body as string)).toEqual({
      errorCode: 'InternalError',
      message: 'An unexpected error occurred.',
      source: 'System',
      isPermanent: false,
    });
  });

  it('adds Retry-After to 503 answers and WWW-Authenticate to 401 answers', () => {
    expect((toErrorResponse(new StorageUnavailableError('x')).headers as Record<string, string>)['Retry-After']).toBe(
      '5',
    );
    expect(
      (toErrorResponse(new AuthError('test.rule', 'x')).headers as Record<string, string>)['WWW-Authenticate'],
    ).toBe('SubjectAndAppToken1.0');
  });
});
