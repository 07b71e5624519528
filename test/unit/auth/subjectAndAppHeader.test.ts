import { describe, expect, it } from 'vitest';
import {
  MAX_AUTHORIZATION_LENGTH,
  parseClientTenantHeader,
  parseSubjectAndAppHeader,
} from '../../../src/auth/subjectAndAppHeader';
import { AuthError } from '../../../src/fabric/errors';

const JWT_A = 'eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2lnbmF0dXJl';
const JWT_B = 'eyJhbGciOiJSUzI1NiJ9.eyJiIjoyfQ.c2lnbmF0dXJm';
const header = (subject: string, app: string) => `SubjectAndAppToken1.0 subjectToken="${subject}", appToken="${app}"`;

function reasonOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError);
    return (error as AuthError).reason;
  }
  throw new Error('expected an AuthError');
}

describe('parseSubjectAndAppHeader', () => {
  it('returns both tokens of a well-formed header', () => {
    expect(parseSubjectAndAppHeader(header(JWT_A, JWT_B))).toEqual({ subjectToken: JWT_A, appToken: JWT_B });
  });

  it('accepts an empty subject token syntactically (the endpoint decides whether to allow it)', () => {
    expect(parseSubjectAndAppHeader(header('', JWT_B))).toEqual({ subjectToken: '', appToken: JWT_B });
  });

  it.each([
    ['missing', null, /missing/],
    ['empty', '', /missing/],
    ['another scheme', `Bearer ${JWT_A}`, /scheme is not/],
    [
      'a lower-case scheme',
      header(JWT_A, JWT_B).replace('SubjectAndAppToken1.0', 'subjectandapptoken1.0'),
      /scheme is not/,
    ],
    [
      'tokens in the other order',
      `SubjectAndAppToken1.0 appToken="${JWT_B}", subjectToken="${JWT_A}"`,
      /exact SubjectAndApp form/,
    ],
    ['no space after the comma', header(JWT_A, JWT_B).replace('", appToken', '",appToken'), /exact SubjectAndApp form/],
    ['two spaces after the scheme', header(JWT_A, JWT_B).replace('1.0 ', '1.0  '), /exact SubjectAndApp form/],
    ['a trailing space', `${header(JWT_A, JWT_B)} `, /exact SubjectAndApp form/],
    [
      'two headers joined with ", " (as a proxy in front may)',
      `${header(JWT_A, JWT_B)}, ${header(JWT_A, JWT_B)}`,
      /exact SubjectAndApp form/,
    ],
    [
      'two headers joined as the Functions host joins them (a bare comma)',
      `${header(JWT_A, JWT_B)},${header(JWT_A, JWT_B)}`,
      /exact SubjectAndApp form/,
    ],
    [
      'one header split over two lines, as the Functions host joins them',
      header(JWT_A, JWT_B).replace(', appToken', ',appToken'),
      /exact SubjectAndApp form/,
    ],
    [
      'two headers joined with a space (older hosts)',
      `${header(JWT_A, JWT_B)} ${header(JWT_A, JWT_B)}`,
      /exact SubjectAndApp form/,
    ],
    ['an empty app token', header(JWT_A, ''), /app token is not a compact JWS/],
    ['a token that does not start with eyJ', header(JWT_A, 'abc.def.ghi'), /app token is not a compact JWS/],
    ['a token with four segments', header(`${JWT_A}.x`, JWT_B), /subject token is not a compact JWS/],
    ['a token with a non-base64url character', header(JWT_A, `${JWT_B}+`), /app token is not a compact JWS/],
  ])('rejects %s', (_name, value, reason) => {
    expect(reasonOf(() => parseSubjectAndAppHeader(value))).toMatch(reason);
  });

  it('rejects a header over the length bound before parsing it', () => {
    const long = header('eyJ' + 'a'.repeat(MAX_AUTHORIZATION_LENGTH), JWT_B);
    expect(reasonOf(() => parseSubjectAndAppHeader(long))).toMatch(/over the limit/);
  });

  it('accepts a header of exactly the length bound', () => {
    const base = header(JWT_A, JWT_B);
    const subject = JWT_A + 'a'.repeat(MAX_AUTHORIZATION_LENGTH - base.length);
    expect(parseSubjectAndAppHeader(header(subject, JWT_B)).subjectToken).toBe(subject);
  });

  it('stays linear on adversarial input near the bound', () => {
    // Quadratic backtracking on 16 KiB of this shape would take seconds; the test timeout would catch it.
    const evil = 'SubjectAndAppToken1.0 subjectToken="' + 'eyJ.'.repeat(4000);
    for (let i = 0; i < 200; i++) expect(() => parseSubjectAndAppHeader(evil)).toThrow(AuthError);
  });
});

describe('parseClientTenantHeader', () => {
  it('returns the tenant in lower case', () => {
    expect(parseClientTenantHeader('3C9E4A1B-2222-4222-8222-00000000CCCC')).toBe(
      '3c9e4a1b-2222-4222-8222-00000000cccc',
    );
  });

  it.each([
    ['missing', null, /missing/],
    ['not a GUID', 'contoso.onmicrosoft.com', /not a GUID/],
    ['a GUID in braces', '{3c9e4a1b-2222-4222-8222-00000000cccc}', /not a GUID/],
    ['a GUID without dashes', '3c9e4a1b222242228222000000000ccc', /not a GUID/],
    ['two values', '3c9e4a1b-2222-4222-8222-00000000cccc, 3c9e4a1b-2222-4222-8222-00000000cccc', /more than one value/],
  ])('rejects %s', (_name, value, reason) => {
    expect(reasonOf(() => parseClientTenantHeader(value))).toMatch(reason);
  });
});
