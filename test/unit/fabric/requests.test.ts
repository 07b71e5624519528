import { describe, expect, it } from 'vitest';
import { InvalidRequestBodyError } from '../../../src/fabric/errors';
import {
  ENDPOINT_RESOLUTION_CONTEXT_NAMES,
  MAX_DISPLAY_NAME_LENGTH,
  parseCreateItemJobInstanceRequest,
  parseCreateItemRequest,
  parseEndpointResolutionRequest,
  parseUpdateItemRequest,
  payloadText,
} from '../../../src/fabric/requests';
import { MAX_STRING_PROPERTY_LENGTH } from '../../../src/text';

/** The message of the InvalidRequestBodyError `parse` throws (the test fails if it throws anything else or nothing). */
function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestBodyError);
    return (error as Error).message;
  }
  throw new Error('expected an InvalidRequestBodyError');
}

/** An object whose JSON text is exactly `length` characters. */
const payloadOfLength = (length: number) => ({ p: 'x'.repeat(length - '{"p":""}'.length) });

describe('parseCreateItemJobInstanceRequest', () => {
  it.each([
    ['Manual', 'Manual'],
    ['Scheduled', 'Scheduled'],
    ['a value the enum may grow to', 'UnknownFutureValue'],
    ['one letter', 'M'],
    ['64 letters and digits', `A${'b1'.repeat(31)}c`],
  ])('keeps an invokeType of %s as it came', (_name, invokeType) => {
    expect(parseCreateItemJobInstanceRequest({ invokeType }).invokeType).toBe(invokeType);
  });

  it.each([
    ['absent', {}, /invokeType is required/],
    ['null', { invokeType: null }, /invokeType must be a word/],
    ['a number', { invokeType: 1 }, /invokeType must be a word/],
    ['empty', { invokeType: '' }, /invokeType must be a word/],
    ['65 characters', { invokeType: 'A'.repeat(65) }, /invokeType must be a word/],
    ['starting with a digit', { invokeType: '1Manual' }, /invokeType must be a word/],
    ['with a space', { invokeType: 'Man ual' }, /invokeType must be a word/],
    ['with a line break', { invokeType: 'Manual\n' }, /invokeType must be a word/],
  ])('refuses an invokeType that is %s', (_name, body, reason) => {
    expect(refusal(() => parseCreateItemJobInstanceRequest(body))).toMatch(reason);
  });

  it.each([
    ['absent', {}, '{}'],
    ['null', { creationPayload: null }, '{}'],
    ['an empty object', { creationPayload: {} }, '{}'],
    [
      'an object',
      { creationPayload: { durationSeconds: 5, nested: { a: [1] } } },
      '{"durationSeconds":5,"nested":{"a":[1]}}',
    ],
  ])('stores a creationPayload that is %s as JSON text', (_name, body, text) => {
    expect(parseCreateItemJobInstanceRequest({ invokeType: 'Manual', ...body }).creationPayload).toBe(text);
  });

  it.each([
    ['an array', []],
    ['a string', '{}'],
    ['a number', 0],
    ['false', false],
  ])('refuses a creationPayload that is %s', (_name, creationPayload) => {
    expect(refusal(() => parseCreateItemJobInstanceRequest({ invokeType: 'Manual', creationPayload }))).toMatch(
      /creationPayload must be a JSON object/,
    );
  });

  it('ignores properties the contract does not name', () => {
    expect(parseCreateItemJobInstanceRequest({ invokeType: 'Manual', extra: [1, 2] })).toEqual({
      invokeType: 'Manual',
      creationPayload: '{}',
    });
  });
});

describe('payloadText', () => {
  it('takes a payload of exactly the Table property bound as JSON, and refuses one character more, naming the property', () => {
    expect(payloadText(payloadOfLength(MAX_STRING_PROPERTY_LENGTH), 'p')).toHaveLength(MAX_STRING_PROPERTY_LENGTH);
    expect(refusal(() => payloadText(payloadOfLength(MAX_STRING_PROPERTY_LENGTH + 1), 'updatePayload'))).toBe(
      `The request body is invalid: updatePayload is ${MAX_STRING_PROPERTY_LENGTH + 1} characters as JSON; at most ${MAX_STRING_PROPERTY_LENGTH} can be stored.`,
    );
  });
});

describe('parseCreateItemRequest', () => {
  it('keeps the display name, the description and the payload', () => {
    expect(
      parseCreateItemRequest({ displayName: 'Q3', description: 'quarterly', creationPayload: { horizonMonths: 3 } }),
    ).toEqual({ displayName: 'Q3', description: 'quarterly', creationPayload: '{"horizonMonths":3}' });
  });

  it('leaves out an absent or null description, and stores no payload as {}', () => {
    expect(parseCreateItemRequest({ displayName: 'Q3' })).toEqual({ displayName: 'Q3', creationPayload: '{}' });
    expect(parseCreateItemRequest({ displayName: 'Q3', description: null })).not.toHaveProperty('description');
  });

  it.each([
    ['an empty display name', ''],
    [`a display name of ${MAX_DISPLAY_NAME_LENGTH} characters`, 'n'.repeat(MAX_DISPLAY_NAME_LENGTH)],
  ])('accepts %s', (_name, displayName) => {
    expect(parseCreateItemRequest({ displayName }).displayName).toBe(displayName);
  });

  it(`accepts a description of ${MAX_STRING_PROPERTY_LENGTH} characters`, () => {
    const description = 'd'.repeat(MAX_STRING_PROPERTY_LENGTH);
    expect(parseCreateItemRequest({ displayName: 'n', description }).description).toBe(description);
  });

  it.each([
    ['no displayName', {}, /displayName is required/],
    ['a null displayName', { displayName: null }, /displayName is required/],
    ['a displayName that is not a string', { displayName: 7 }, /displayName must be a string/],
    [
      'a displayName one character too long',
      { displayName: 'n'.repeat(MAX_DISPLAY_NAME_LENGTH + 1) },
      /displayName is longer than 256 characters/,
    ],
    ['a description that is not a string', { displayName: 'n', description: ['d'] }, /description must be a string/],
    [
      'a description one character too long',
      { displayName: 'n', description: 'd'.repeat(MAX_STRING_PROPERTY_LENGTH + 1) },
      /description is longer than/,
    ],
    [
      'a creationPayload that is an array',
      { displayName: 'n', creationPayload: [] },
      /creationPayload must be a JSON object/,
    ],
    [
      'a creationPayload too long to store',
      { displayName: 'n', creationPayload: payloadOfLength(MAX_STRING_PROPERTY_LENGTH + 1) },
      /creationPayload is \d+ characters as JSON/,
    ],
  ])('refuses %s', (_name, body, reason) => {
    expect(refusal(() => parseCreateItemRequest(body))).toMatch(reason);
  });
});

describe('parseUpdateItemRequest (PATCH semantics)', () => {
  it.each([
    ['an empty body changes nothing', {}, {}],
    ['null values change nothing', { displayName: null, description: null, updatePayload: null }, {}],
    ['a display name alone', { displayName: 'renamed' }, { displayName: 'renamed' }],
    ['an empty display name is a change', { displayName: '' }, { displayName: '' }],
    ['an empty description is a change', { description: '' }, { description: '' }],
    ['a payload alone', { updatePayload: { horizonMonths: 6 } }, { updatePayload: '{"horizonMonths":6}' }],
    ['an empty payload replaces the stored one', { updatePayload: {} }, { updatePayload: '{}' }],
  ])('%s', (_name, body, expected) => {
    expect(parseUpdateItemRequest(body)).toEqual(expected);
  });

  it.each([
    ['a displayName that is not a string', { displayName: false }, /displayName must be a string/],
    ['a displayName too long', { displayName: 'n'.repeat(MAX_DISPLAY_NAME_LENGTH + 1) }, /displayName is longer/],
    ['a description that is not a string', { description: 1 }, /description must be a string/],
    ['an updatePayload that is not an object', { updatePayload: 'x' }, /updatePayload must be a JSON object/],
    [
      'an updatePayload too long to store',
      { updatePayload: payloadOfLength(MAX_STRING_PROPERTY_LENGTH + 1) },
      /updatePayload is \d+ characters as JSON/,
    ],
  ])('refuses %s', (_name, body, reason) => {
    expect(refusal(() => parseUpdateItemRequest(body))).toMatch(reason);
  });
});

describe('parseEndpointResolutionRequest', () => {
  const property = (name: string, value: unknown = 'v') => ({ name, value });

  it('reads every name of the contract once, into a map', () => {
    const context = ENDPOINT_RESOLUTION_CONTEXT_NAMES.map((name) => property(name, `${name} value`));
    expect(parseEndpointResolutionRequest({ context })).toEqual(
      Object.fromEntries(ENDPOINT_RESOLUTION_CONTEXT_NAMES.map((name) => [name, `${name} value`])),
    );
  });

  it.each([
    ['an empty context', [], {}],
    ['an empty value', [property('TenantRegion', '')], { TenantRegion: '' }],
    ['a value of 256 characters', [property('EndpointName', 'e'.repeat(256))], { EndpointName: 'e'.repeat(256) }],
    [
      'extra members of a property',
      [{ name: 'WorkspaceRegion', value: 'westeurope', other: 1 }],
      { WorkspaceRegion: 'westeurope' },
    ],
  ])('accepts %s', (_name, context, expected) => {
    expect(parseEndpointResolutionRequest({ context })).toEqual(expected);
  });

  it.each([
    ['no context', {}, /context is required/],
    ['a null context', { context: null }, /context is required/],
    ['a context that is an object', { context: { EndpointName: 'x' } }, /context must be an array/],
    ['more than 16 properties', { context: Array(17).fill(property('EndpointName')) }, /more than 16 properties/],
    ['a property that is not an object', { context: ['EndpointName'] }, /context\[0\] must be an object/],
    ['a property that is null', { context: [property('TenantId'), null] }, /context\[1\] must be an object/],
    ['an unknown name', { context: [property('Region')] }, /context\[0\]\.name must be one of EndpointName, /],
    ['a name in another case', { context: [property('endpointname')] }, /context\[0\]\.name must be one of/],
    ['a name that is not a string', { context: [{ name: 1, value: 'v' }] }, /context\[0\]\.name must be one of/],
    ['a value that is not a string', { context: [property('TenantId', 1)] }, /context\[0\]\.value must be a string/],
    ['no value', { context: [{ name: 'TenantId' }] }, /context\[0\]\.value must be a string/],
    [
      'a value of 257 characters',
      { context: [property('TenantId', 't'.repeat(257))] },
      /context\[0\]\.value must be a string of at most 256 characters/,
    ],
    [
      'a name given twice',
      { context: [property('TenantId', 'a'), property('TenantId', 'b')] },
      /context names TenantId more than once/,
    ],
  ])('refuses %s', (_name, body, reason) => {
    expect(refusal(() => parseEndpointResolutionRequest(body))).toMatch(reason);
  });
});
