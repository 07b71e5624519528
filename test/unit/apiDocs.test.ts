import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  AuthUIRequiredError,
  ConflictError,
  EndpointResolutionNotConfiguredError,
  ERROR_CODES,
  InternalError,
  InvalidItemRecordError,
  InvalidJobStateRecordError,
  InvalidParameterError,
  InvalidRequestBodyError,
  ItemNotFoundError,
  ItemPayloadError,
  SigningKeysUnavailableError,
  StorageUnavailableError,
  TokenServiceUnavailableError,
  UnknownItemTypeError,
  UnknownJobTypeError,
  type FabricError,
} from '../../src/fabric/errors';

/** docs/api.md's "Answers" table: every errorCode the app answers, beside its status, source and isPermanent. */
const guide = readFileSync(join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');

interface Row {
  situation: string;
  status: string;
  errorCode: string;
  source: string;
  isPermanent: string;
}

function answersTable(): Row[] {
  const section = guide.slice(guide.indexOf('\n## Answers\n'));
  const header = '| situation | status | errorCode | source | isPermanent |';
  const start = section.indexOf(header);
  expect(start, 'the Answers section has its table').toBeGreaterThan(0);
  const lines = section.slice(start).split('\n');
  return lines
    .slice(
      2,
      lines.findIndex((line, i) => i > 0 && !line.startsWith('|')),
    )
    .map((line) => line.slice(1, -1).split(' | '))
    .map(([situation, status, errorCode, source, isPermanent]) => ({
      situation: situation.trim(),
      status: status.trim(),
      errorCode: errorCode.trim(),
      source: source.trim(),
      isPermanent: isPermanent.trim(),
    }));
}

/** One error of each code, as the app throws it. */
const ONE_OF_EACH: FabricError[] = [
  new InvalidParameterError('itemId', 'a GUID'),
  new InvalidRequestBodyError('it is not JSON'),
  new UnknownJobTypeError('Contoso.Item', 'job'),
  new UnknownItemTypeError('Contoso.Item'),
  new ItemPayloadError('not a short word!', 'refused'),
  new AuthError('appToken.audience', 'wrong audience'),
  new ItemNotFoundError('no row'),
  new ConflictError('ItemConflict', 'taken'),
  new ConflictError('ItemUpdateConflict', 'kept changing'),
  new ConflictError('ItemDeleted', 'deleted'),
  new ConflictError('JobInstanceConflict', 'taken'),
  new StorageUnavailableError('refused'),
  new SigningKeysUnavailableError('JWKS down', 10),
  new AuthUIRequiredError(
    'AADSTS65001: consent',
    ['https://storage.azure.com/user_impersonation'],
    'invalid_grant',
    '',
    'x',
  ),
  new TokenServiceUnavailableError('token endpoint down'),
  new InvalidJobStateRecordError('corrupt'),
  new InvalidItemRecordError('corrupt'),
  new EndpointResolutionNotConfiguredError('no URL'),
  new InternalError(),
];

describe('docs/api.md, "Answers"', () => {
  it('lists exactly the error codes of ERROR_CODES, each once', () => {
    expect(answersTable().map((row) => row.errorCode)).toEqual([...ERROR_CODES]);
  });

  it('gives each code the status, source and isPermanent the app answers with (and Retry-After where it sends one)', () => {
    expect(ONE_OF_EACH.map((error) => error.errorCode).sort()).toEqual([...ERROR_CODES].sort());
    const rows = new Map(answersTable().map((row) => [row.errorCode, row]));
    for (const error of ONE_OF_EACH) {
      const row = rows.get(error.errorCode)!;
      const retryAfter = 'Retry-After' in error.headers ? ' + `Retry-After`' : '';
      expect(row, error.errorCode).toMatchObject({
        status: `${error.status}${retryAfter}`,
        source: error.source,
        isPermanent: String(error.isPermanent),
      });
    }
  });
});
