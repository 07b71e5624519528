import { describe, expect, it } from 'vitest';
import * as errors from '../../../src/fabric/errors';
import {
  AuthError,
  AuthUIRequiredError,
  ConflictError,
  TokenServiceUnavailableError,
  ItemConflictError,
  ItemDeletedError,
  describeError,
  EndpointResolutionNotConfiguredError,
  ERROR_CODES,
  FabricError,
  InternalError,
  InvalidItemRecordError,
  InvalidJobStateRecordError,
  InvalidParameterError,
  InvalidRequestBodyError,
  ItemNotFoundError,
  ItemPayloadError,
  SigningKeysUnavailableError,
  StorageUnavailableError,
  UnknownItemTypeError,
  UnknownJobTypeError,
} from '../../../src/fabric/errors';

/** One instance of every error class, with the row of docs/api.md "Answers" it must carry. */
const ROWS: [FabricError, number, string, string, boolean, Record<string, string>][] = [
  [new InvalidParameterError('itemId', 'it must be a GUID'), 400, 'InvalidParameter', 'User', true, {}],
  [new InvalidRequestBodyError('it is not JSON'), 400, 'InvalidRequestBody', 'User', true, {}],
  [new UnknownJobTypeError('T', 'J'), 400, 'UnknownJobType', 'User', true, {}],
  [new UnknownItemTypeError('T'), 400, 'UnknownItemType', 'User', true, {}],
  [new ItemPayloadError('InvalidItemPayload', 'no'), 400, 'InvalidItemPayload', 'User', true, {}],
  [new ItemNotFoundError('detail'), 404, 'ItemNotFound', 'User', true, {}],
  [new ConflictError('ItemConflict', 'taken'), 409, 'ItemConflict', 'User', true, {}],
  [new ConflictError('ItemUpdateConflict', 'taken'), 409, 'ItemUpdateConflict', 'User', true, {}],
  [new ConflictError('JobInstanceConflict', 'taken'), 409, 'JobInstanceConflict', 'User', true, {}],
  [new ItemConflictError('b14cb7e7-d346-4751-9cfd-8c2767d53111'), 409, 'ItemConflict', 'User', true, {}],
  [new ItemDeletedError('b14cb7e7-d346-4751-9cfd-8c2767d53111'), 409, 'ItemDeleted', 'User', true, {}],
  [
    new AuthError('appToken.audience', 'reason'),
    401,
    'AuthError',
    'External',
    false,
    { 'WWW-Authenticate': 'SubjectAndAppToken1.0' },
  ],
  [new StorageUnavailableError('detail'), 503, 'StorageUnavailable', 'System', false, { 'Retry-After': '5' }],
  [new TokenServiceUnavailableError('detail'), 503, 'TokenServiceUnavailable', 'System', false, { 'Retry-After': '5' }],
  [
    new AuthUIRequiredError(
      'AADSTS65001: consent',
      ['https://storage.azure.com/user_impersonation'],
      'invalid_grant',
      '',
      'detail',
    ),
    401,
    'AuthUIRequired',
    'System',
    false,
    { 'WWW-Authenticate': 'Bearer error="invalid_grant"' },
  ],
  [
    new SigningKeysUnavailableError('detail', 10),
    503,
    'SigningKeysUnavailable',
    'System',
    false,
    { 'Retry-After': '10' },
  ],
  [new InvalidJobStateRecordError('detail'), 500, 'InvalidJobStateRecord', 'System', false, {}],
  [new InvalidItemRecordError('detail'), 500, 'InvalidItemRecord', 'System', false, {}],
  [new EndpointResolutionNotConfiguredError('detail'), 500, 'EndpointResolutionNotConfigured', 'System', false, {}],
  [new InternalError(), 500, 'InternalError', 'System', false, {}],
];

describe('the error classes', () => {
  it.each(ROWS.map((row) => [row[0].name, ...row] as const))(
    '%s carries its status, code, source, permanence and headers',
    (_name, error, status, errorCode, source, isPermanent, headers) => {
      expect(error).toBeInstanceOf(FabricError);
      expect({ ...error.headers }).toEqual(headers);
      expect({
        status: error.status,
        errorCode: error.errorCode,
        source: error.source,
        isPermanent: error.isPermanent,
      }).toEqual({ status, errorCode, source, isPermanent });
    },
  );

  it('cover every error class the module exports', () => {
    const classes = Object.values(errors).filter(
      (value: unknown) => typeof value === 'function' && value.prototype instanceof FabricError,
    );
    expect(new Set(classes)).toEqual(new Set(ROWS.map(([error]) => error.constructor)));
  });

  it('use every code of ERROR_CODES, and no other', () => {
    expect(new Set(ROWS.map(([error]) => error.errorCode))).toEqual(new Set(ERROR_CODES));
  });

  it('name the parameters their message names', () => {
    expect(new InvalidParameterError('itemId', 'x').messageParameters).toEqual(['itemId']);
    expect(new UnknownJobTypeError('T', 'J').messageParameters).toEqual(['T', 'J']);
    expect(new UnknownItemTypeError('T').messageParameters).toEqual(['T']);
    expect(new InternalError().messageParameters).toBeUndefined();
  });

  it('keep the log detail out of the message the caller sees', () => {
    for (const error of [new ItemNotFoundError('row of tenant X'), new AuthError('rule', 'row of tenant X')]) {
      expect(error.logDetail).toBe('row of tenant X');
      expect(error.message).not.toContain('tenant X');
    }
  });

  it.each([
    [0.2, '1'],
    [0, '1'],
    [1.5, '2'],
    [30, '30'],
  ])('round Retry-After of %s s up to whole seconds, at least 1: %s', (seconds, header) => {
    expect(new SigningKeysUnavailableError('x', seconds).headers['Retry-After']).toBe(header);
  });
});

describe('ItemPayloadError', () => {
  it.each([
    ['a short word as it is', 'InvalidForecastHorizon', 'InvalidForecastHorizon'],
    ['dots, dashes and underscores in a word', 'Contoso.Bad_value-2', 'Contoso.Bad_value-2'],
    ['a code of 64 characters', 'A'.repeat(64), 'A'.repeat(64)],
    ['a code of 65 characters', 'A'.repeat(65), 'InvalidItemPayload'],
    ['an empty code', '', 'InvalidItemPayload'],
    ['a code starting with a digit', '1Bad', 'InvalidItemPayload'],
    ['a code with a space', 'Bad code', 'InvalidItemPayload'],
    ['a code with a line break', 'Bad\r\nX', 'InvalidItemPayload'],
  ])('keeps %s, else falls back to InvalidItemPayload', (_name, code, expected) => {
    expect(new ItemPayloadError(code, 'message').errorCode).toBe(expected);
  });

  it('shows the vendor message to the caller as it is, cut to 1024 characters', () => {
    expect(new ItemPayloadError('Bad', 'horizon too long').message).toBe('horizon too long');
    expect(new ItemPayloadError('Bad', 'x'.repeat(2000)).message).toHaveLength(1024);
  });

  it('puts the vendor message in logDetail escaped, on one line, with the code it answers', () => {
    const error = new ItemPayloadError('Bad code', 'line one\r\nline two\u2028three');
    expect(error.logDetail).toBe(
      'the item handler refused it (InvalidItemPayload): "line one\\r\\nline two\\u2028three"',
    );
    expect(error.logDetail).not.toMatch(/[\r\n\u2028\u2029]/);
  });
});

describe('describeError', () => {
  it('describes a FabricError by its logDetail, else by its message', () => {
    expect(describeError(new ItemNotFoundError('no row for item X'))).toBe('no row for item X');
    expect(describeError(new InvalidRequestBodyError('it is not JSON'))).toBe(
      'The request body is invalid: it is not JSON.',
    );
  });

  it('describes any other Error by its class and its message, escaped onto one line', () => {
    const described = describeError(new TypeError('bad\r\ninput\u2028here'));
    expect(described).toBe('TypeError: "bad\\r\\ninput\\u2028here"');
    expect(described).not.toMatch(/[\r\n\u2028\u2029]/);
  });

  it('cuts a long message', () => {
    expect(describeError(new Error('x'.repeat(1000))).length).toBeLessThan(320);
  });

  it.each([
    ['a string', 'oops\nnext', '"oops\\nnext"'],
    ['a number', 42, '"42"'],
    ['undefined', undefined, '"undefined"'],
    ['an object', { secret: 1 }, '"[object Object]"'],
  ])('describes a thrown %s by its text, escaped', (_name, thrown, expected) => {
    expect(describeError(thrown)).toBe(expected);
  });
});
