import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractValidator } from '../fixtures/contractSchema';
import { startStack, type TestStack } from '../fixtures/stack';

const isResolution = contractValidator('EndpointResolutionResponse');
const isRequest = contractValidator('EndpointResolutionRequest');
const isErrorResponse = contractValidator('ErrorResponse');
const PATH = '/resolve-api-path-placeholder';

const URLS = {
  westeurope: 'https://weu.backend.contoso.example/api',
  eastus: 'https://eus.backend.contoso.example/api',
  default: 'https://backend.contoso.example/api',
};

let stack: TestStack;
let unconfigured: TestStack;
beforeAll(async () => {
  [stack, unconfigured] = await Promise.all([
    startStack({ ENDPOINT_RESOLUTION_URLS: JSON.stringify(URLS) }, { queues: false }),
    startStack({}, { queues: false }),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await unconfigured?.close();
});

/** Fabric's call: the app token alone, no x-ms-client-tenant-id. */
const appOnly = (s: TestStack) => {
  const { 'x-ms-client-tenant-id': _tenant, ...headers } = s.headers();
  headers.authorization = `SubjectAndAppToken1.0 subjectToken="", appToken="${s.tokens.appToken()}"`;
  return headers;
};
const resolve = (body: unknown, s = stack) => s.send('POST', PATH, body, appOnly(s));
const context = (pairs: Record<string, string>) => ({
  context: Object.entries(pairs).map(([name, value]) => ({ name, value })),
});

describe('EndpointResolution_Resolve', () => {
  it.each([
    [
      'the workspace region',
      { EndpointName: 'Workload', TenantRegion: 'eastus', WorkspaceRegion: 'westeurope' },
      URLS.westeurope,
    ],
    [
      'the tenant region when the workspace region is unknown',
      { TenantRegion: 'eastus', WorkspaceRegion: 'brazilsouth' },
      URLS.eastus,
    ],
    ['the tenant region when there is no workspace region', { TenantRegion: 'East US' }, URLS.eastus],
    [
      'the default for an unknown region',
      { TenantRegion: 'japaneast', TenantId: '11111111-2222-4333-8444-555555555555' },
      URLS.default,
    ],
    ['the default for an empty context', {}, URLS.default],
    ['the default, never a region literally named "default"', { WorkspaceRegion: 'Default' }, URLS.default],
  ])('sends %s to its URL', async (_name, pairs, url) => {
    const body = context(pairs);
    expect(isRequest(body)).toBe(true);
    const answer = await resolve(body);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ url, ttlInMinutes: 60 });
    expect(isResolution(answer.json)).toBe(true);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
  });

  it.each([
    ['no context', {}, /context is required/],
    ['a context that is not an array', { context: { TenantRegion: 'eastus' } }, /context must be an array/],
    ['an unknown context name', context({ Planet: 'Mars' }), /name must be one of/],
    ['a property without a value', { context: [{ name: 'TenantRegion' }] }, /value must be a string/],
    ['a property that is not an object', { context: ['TenantRegion'] }, /must be an object/],
    [
      'a name given twice',
      {
        context: [
          { name: 'TenantRegion', value: 'a' },
          { name: 'TenantRegion', value: 'b' },
        ],
      },
      /more than once/,
    ],
    ['a huge value', context({ TenantRegion: 'x'.repeat(300) }), /at most 256/],
  ])('answers 400 InvalidRequestBody to %s', async (_name, body, message) => {
    const answer = await resolve(body);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ errorCode: 'InvalidRequestBody', source: 'User', isPermanent: true });
    expect(answer.json.message).toMatch(message);
    expect(isErrorResponse(answer.json)).toBe(true);
  });

  it("answers the app's own base URL when ENDPOINT_RESOLUTION_URLS is not set (one region needs no configuration)", async () => {
    const answer = await resolve(context({ TenantRegion: 'eastus' }), unconfigured);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ url: unconfigured.host.baseUrl, ttlInMinutes: 60 });
    expect(unconfigured.logs.some((l) => /by this app \(no ENDPOINT_RESOLUTION_URLS\)/.test(l.line))).toBe(true);
  });

  it('answers 405 to another method on its route', async () => {
    const answer = await stack.get(PATH, appOnly(stack));
    expect(answer.status).toBe(405);
  });
});
