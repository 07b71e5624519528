import { describe, expect, it } from 'vitest';
import type { ItemJobInstanceState } from '../../../src/fabric/contract';
import {
  AuthError,
  InvalidParameterError,
  SigningKeysUnavailableError,
  UnknownJobTypeError,
} from '../../../src/fabric/errors';
import { jobStateResponse, jsonResponse, okResponse, toErrorResponse } from '../../../src/fabric/responses';

/** What every JSON answer carries: never cached, never sniffed as anything but JSON. */
const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

describe('the success answers', () => {
  it('jsonResponse: 200, the JSON headers, the body as JSON text', () => {
    expect(jsonResponse({ url: 'https://example.invalid', ttlInMinutes: 5 })).toEqual({
      status: 200,
      headers: JSON_HEADERS,
      body: '{"url":"https://example.invalid","ttlInMinutes":5}',
    });
  });

  it('jobStateResponse: 200, the JSON headers, the state as JSON text', () => {
    const state: ItemJobInstanceState = { status: 'Completed' };
    expect(jobStateResponse(state)).toEqual({ status: 200, headers: JSON_HEADERS, body: '{"status":"Completed"}' });
  });

  it('okResponse: 200 with no body, not cached', () => {
    expect(okResponse()).toEqual({ status: 200, headers: { 'Cache-Control': 'no-store' } });
  });

  it('hand out headers each answer may change without changing the next', () => {
    (jsonResponse({}).headers as Record<string, string>).ActivityId = 'a';
    (okResponse().headers as Record<string, string>).ActivityId = 'a';
    expect(jsonResponse({}).headers).toEqual(JSON_HEADERS);
    expect(okResponse().headers).not.toHaveProperty('ActivityId');
  });
});

describe('toErrorResponse', () => {
  it("carries the error's messageParameters, and none when it has none", () => {
    const body = (error: unknown) => JSON.parse(toErrorResponse(error).body as string);
    expect(body(new UnknownJobTypeError('T', 'J')).messageParameters).toEqual(['T', 'J']);
    expect(body(new InvalidParameterError('itemId', 'x')).messageParameters).toEqual(['itemId']);
    expect(body(new AuthError('rule', 'x'))).not.toHaveProperty('messageParameters');
  });

  it("sends the JSON headers with the error's own", () => {
    expect(toErrorResponse(new SigningKeysUnavailableError('x', 3)).headers).toEqual({
      ...JSON_HEADERS,
      'Retry-After': '3',
    });
    expect(toErrorResponse(new Error('x')).headers).toEqual(JSON_HEADERS);
  });
});
