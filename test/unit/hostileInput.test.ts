/**
 * Property-based: whatever a caller puts in the Authorization header, the
 * tenant header, the path or the tokens' JSON, the handler answers a
 * well-formed 400 or 401 ErrorResponse: never a 500, never an exception, never
 * a storage read, never a token in the log, never a broken log line. The same
 * holds when the JWKS itself publishes broken entries: weak keys, malformed
 * or ambiguous fields, key material whose parts disagree. The real
 * authenticator and key store run against a JWKS on loopback; storage is a
 * counter that must stay 0.
 */
import { HttpRequest, InvocationContext, type HttpHandler } from '@azure/functions';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, TokenIssuer, type JwksServer } from '../../dev/tokenIssuer';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { createDependencies } from '../../src/app';
import { readConfig } from '../../src/config';
import { parseClientTenantHeader, parseSubjectAndAppHeader } from '../../src/auth/subjectAndAppHeader';
import { AuthError, InvalidParameterError } from '../../src/fabric/errors';
import { getItemJobInstanceState } from '../../src/functions/getItemJobInstanceState';
import { toHttpHandler } from '../../src/http/operation';
import { JOB_NOT_FOUND_STATE } from '../../src/jobs/lifecycle';
import { jobInstancePath, parseJobPath, type JobPath } from '../../src/http/jobPath';
import {
  anyClaimValue,
  authorizationHeader,
  deepJsonText,
  expectRejected,
  headerText,
  hostilePath,
  notAString,
  tenantHeader,
  tokenSegments,
  type Rejection,
} from '../fixtures/hostileInput';
import { appSettings, SEED, USER_TENANT } from '../fixtures/stack';
import { forge, rs256, tokenFactory, type TokenFactory } from '../fixtures/tokens';
import { brokenEntry, jwksMaterial, usableEntry, type JwksMaterial } from '../fixtures/hostileJwks';
import { describeUnusable, parseJwks } from '../../src/auth/jwks';
import { isPlainObject } from '../../src/fabric/contract';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { LOG_INJECTION_PAYLOAD } from '../fixtures/authCases';

const RUNS = { numRuns: 200 };

let issuer: TokenIssuer;
let jwks: JwksServer;
let tokens: TokenFactory;
let handler: HttpHandler;
let storageReads = 0;
/** Stands in for the job table: any call is a hostile request that got too far. */
const jobs = {
  state: async () => {
    storageReads++;
    return JOB_NOT_FOUND_STATE;
  },
} as unknown as ReturnType<typeof createDependencies>['jobs'];
/** The handler as the app composes it, with the key store reading `jwksUri`; `warn` gets the process-wide warnings. */
const handlerFor = (jwksUri: string, warn: (line: string) => void = () => undefined) => {
  const config = readConfig(appSettings(jwksUri, 'UseDevelopmentStorage=true', 'NeverRead'));
  const services = createDependencies(config, { env: {}, warn });
  return toHttpHandler(getItemJobInstanceState({ ...services, jobs }), services.authenticator, services.summaries);
};
beforeAll(async () => {
  issuer = new TokenIssuer();
  issuer.addKey();
  jwks = await startJwksServer(issuer);
  tokens = tokenFactory(issuer);
  handler = handlerFor(jwks.jwksUri);
});
afterAll(async () => {
  await jwks?.close();
  // Not one hostile request got as far as storage.
  expect(storageReads).toBe(0);
});

async function call(path: JobPath, headers: Record<string, string>, through = handler): Promise<Rejection> {
  const logs: string[] = [];
  const request = new HttpRequest({
    method: 'GET',
    url: `http://localhost/api${jobInstancePath(SEED)}`,
    headers,
    params: { ...path },
  });
  const context = new InvocationContext({ logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')) });
  const response = await through(request, context);
  const responseHeaders = Object.fromEntries(
    Object.entries(response.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  return { status: response.status ?? 200, body: JSON.parse(String(response.body)), headers: responseHeaders, logs };
}

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

const validHeaders = () => ({ authorization: tokens.header(), 'x-ms-client-tenant-id': USER_TENANT });

describe('the header parsers, on anything', () => {
  it('parseSubjectAndAppHeader returns two compact tokens or throws AuthError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(authorizationHeader, fc.string({ unit: 'binary' })), (value) => {
        try {
          const { subjectToken, appToken } = parseSubjectAndAppHeader(value);
          expect(value).toBe(subjectAndAppHeader(subjectToken, appToken));
        } catch (error) {
          expect(error).toBeInstanceOf(AuthError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('parseClientTenantHeader returns a lowercase GUID or throws AuthError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(tenantHeader, fc.uuid(), fc.string({ unit: 'binary' })), (value) => {
        try {
          expect(parseClientTenantHeader(value)).toMatch(
            /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
          );
        } catch (error) {
          expect(error).toBeInstanceOf(AuthError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('parseJobPath throws InvalidParameterError naming the first bad value', () => {
    fc.assert(
      fc.property(hostilePath(SEED), ({ path, firstBad }) => {
        const error = thrownBy(() => parseJobPath({ ...path }));
        expect(error).toBeInstanceOf(InvalidParameterError);
        expect((error as InvalidParameterError).messageParameters).toEqual([firstBad]);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the handler, on hostile requests', () => {
  it('answers 401 to any Authorization header', async () => {
    await fc.assert(
      fc.asyncProperty(authorizationHeader, async (authorization) => {
        expectRejected(
          await call(SEED, { authorization, 'x-ms-client-tenant-id': USER_TENANT }),
          401,
          tokenSegments(authorization),
        );
      }),
      RUNS,
    );
  });

  it('answers 401 to any tenant header that is not the token’s tenant, even with valid tokens', async () => {
    const headers = validHeaders();
    await fc.assert(
      fc.asyncProperty(
        tenantHeader.filter((tenant) => tenant.trim().toLowerCase() !== USER_TENANT),
        async (tenant) => {
          expectRejected(
            await call(SEED, { ...headers, 'x-ms-client-tenant-id': tenant }),
            401,
            tokenSegments(headers.authorization),
          );
        },
      ),
      RUNS,
    );
  });

  it('answers 400 naming the first bad path value, before looking at credentials', async () => {
    await fc.assert(
      fc.asyncProperty(hostilePath(SEED), fc.option(headerText), async ({ path, firstBad }, authorization) => {
        const answer = await call(path, authorization === null ? {} : { authorization });
        expectRejected(answer, 400);
        expect(answer.body.messageParameters).toEqual([firstBad]);
      }),
      RUNS,
    );
  });

  /** Claims that decide validity, each with values that can never be right for it. */
  const APP_CLAIMS = ['ver', 'tid', 'iss', 'aud', 'azp', 'idtyp', 'exp', 'nbf', 'oid', 'scp'] as const;
  const SUBJECT_CLAIMS = ['ver', 'tid', 'iss', 'aud', 'azp', 'exp', 'nbf', 'scp', 'idtyp'] as const;
  const wrongValueFor = (claim: string, valid: unknown): fc.Arbitrary<unknown> => {
    switch (claim) {
      case 'exp':
      case 'nbf':
        return notAString.filter((v) => typeof v !== 'number');
      case 'oid':
        return notAString;
      case 'scp':
        // On the app token any scp is wrong; on the subject token anything but a list with the scope.
        return anyClaimValue.filter((v) => !(typeof v === 'string' && v.split(' ').includes('FabricWorkloadControl')));
      case 'idtyp':
        // Wrong on the app token unless exactly "app"; on the subject token whenever present.
        return anyClaimValue.filter((v) => v !== valid && v !== undefined);
      default:
        return anyClaimValue.filter((v) => JSON.stringify(v) !== JSON.stringify(valid));
    }
  };
  const DEEP = '__deep_json__';

  const hostileToken = (which: 'app' | 'subject') => {
    const claimsOf = which === 'app' ? tokens.appClaims : tokens.subjectClaims;
    const names = which === 'app' ? APP_CLAIMS : SUBJECT_CLAIMS;
    const valid = claimsOf();
    const corrupted = fc
      .uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 4 })
      .chain((chosen) =>
        fc.tuple(...chosen.map((claim) => wrongValueFor(claim, valid[claim]).map((value) => [claim, value] as const))),
      );
    return fc.tuple(corrupted, fc.option(fc.integer({ min: 1, max: 3000 }), { freq: 3 })).map(([changes, depth]) => {
      const claims: Record<string, unknown> = { ...claimsOf(), ...Object.fromEntries(changes) };
      // Deep JSON goes in as text: JSON.stringify of a deeply nested value would overflow the stack here, not there.
      if (depth !== null) claims[changes[0][0]] = DEEP;
      const payload = JSON.stringify(claims).replace(JSON.stringify(DEEP), deepJsonText(depth ?? 0));
      return forge({ alg: 'RS256', typ: 'JWT', kid: issuer.keys[0].kid }, payload, rs256(issuer.keys[0].privateKey));
    });
  };

  it.each(['app', 'subject'] as const)(
    'answers 401 to a correctly signed %s token whose claims are hostile',
    async (which) => {
      await fc.assert(
        fc.asyncProperty(hostileToken(which), async (token) => {
          const authorization =
            which === 'app'
              ? subjectAndAppHeader(tokens.subjectToken(), token)
              : subjectAndAppHeader(token, tokens.appToken());
          expectRejected(
            await call(SEED, { authorization, 'x-ms-client-tenant-id': USER_TENANT }),
            401,
            tokenSegments(authorization),
          );
        }),
        { numRuns: 150 },
      );
    },
  );

  it('answers 401 to a correctly signed token whose header or payload is any JSON, or none', async () => {
    const key = () => issuer.keys[0];
    const header = fc.oneof(
      fc.record({ alg: fc.constant('RS256'), kid: anyClaimValue }),
      // typ JWT makes the jws library parse the payload itself, and throw V8's SyntaxError, which quotes it.
      fc.record({ alg: fc.constant('RS256'), typ: fc.constant('JWT'), kid: fc.constant(key().kid) }),
      fc.record({ alg: anyClaimValue, kid: fc.constant(key().kid) }),
      fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
      fc.integer({ min: 1, max: 3000 }).map(deepJsonText),
      headerText,
      // Text that starts like a JSON object, so the token passes the header parser's eyJ check.
      headerText.map((text) => `{"a${text}`),
      fc.integer({ min: 1, max: 3000 }).map((depth) => `{"alg":"RS256","kid":${deepJsonText(depth)}}`),
    );
    const payload = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.integer({ min: 1, max: 3000 }).map(deepJsonText),
      headerText,
      // Raw text with CR, LF and the like, which a header could not carry but a payload can.
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constant(LOG_INJECTION_PAYLOAD),
    );
    await fc.assert(
      fc.asyncProperty(header, payload, async (h, p) => {
        const token = forge(h as Record<string, unknown> | string, p, rs256(key().privateKey));
        const authorization = subjectAndAppHeader(tokens.subjectToken(), token);
        expectRejected(
          await call(SEED, { authorization, 'x-ms-client-tenant-id': USER_TENANT }),
          401,
          tokenSegments(authorization),
        );
      }),
      RUNS,
    );
  });
});

/** Serves whatever document a test sets, as a JWKS on loopback. */
class PublishedDocument extends TokenIssuer {
  document: { keys: unknown[] } = { keys: [] };
  jwks() {
    return this.document as { keys: Record<string, unknown>[] };
  }
}

describe('the key set and the handler, with hostile entries in the JWKS', () => {
  const KID = 'hostile-entry';
  let material: JwksMaterial;
  let published: PublishedDocument;
  let hostileJwks: JwksServer;
  beforeAll(async () => {
    material = jwksMaterial();
    published = new PublishedDocument();
    hostileJwks = await startJwksServer(published);
  });
  afterAll(() => hostileJwks?.close());

  it('parseJwks keeps only entries usable by every rule, each of a kid published once, and reports the rest on one line', () => {
    const kid = fc.constantFrom('k1', 'k2', 'k3', 'a\r\nb\u2028c');
    const group: fc.Arbitrary<{ entries: unknown[]; broken: boolean }> = fc.oneof(
      kid.chain((k) => brokenEntry(material, k)).map(({ entries }) => ({ entries, broken: true })),
      kid.chain((k) => usableEntry(material, k)).map((entry) => ({ entries: [entry], broken: false })),
      fc.jsonValue({ maxDepth: 2 }).map((value) => ({ entries: [value], broken: false })),
    );
    fc.assert(
      fc.property(fc.array(group, { maxLength: 6 }), (groups) => {
        const entries = groups.flatMap((g) => g.entries);
        const { keys, unusable } = parseJwks({ keys: entries });
        expect(keys.length + unusable.count).toBe(entries.length);
        const brokenKids = new Set(
          groups.filter((g) => g.broken).flatMap((g) => g.entries.map((e) => (e as { kid: string }).kid)),
        );
        for (const { kid: usable, key, issuer } of keys) {
          expect(brokenKids.has(usable)).toBe(false);
          const published = entries.filter((e) => isPlainObject(e) && e.kid === usable) as Record<string, unknown>[];
          expect(published).toHaveLength(1);
          const [entry] = published;
          expect(entry.kty).toBe('RSA');
          expect([undefined, 'sig']).toContain(entry.use);
          expect([undefined, 'RS256']).toContain(entry.alg);
          expect(issuer).toBe(entry.issuer);
          if (issuer !== undefined) expect(issuer).not.toBe('');
          expect(key.asymmetricKeyType).toBe('rsa');
          expect(key.asymmetricKeyDetails?.modulusLength).toBeGreaterThanOrEqual(2048);
          expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n);
          if (entry.n !== undefined || entry.e !== undefined) {
            expect(
              key.equals(
                createPublicKey({ key: { kty: 'RSA', n: String(entry.n), e: String(entry.e) }, format: 'jwk' }),
              ),
            ).toBe(true);
          }
          if (entry.x5c !== undefined)
            expect(
              key.equals(new X509Certificate(Buffer.from(String((entry.x5c as unknown[])[0]), 'base64')).publicKey),
            ).toBe(true);
        }
        expect(describeUnusable(unusable)).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
      }),
      { numRuns: 500 },
    );
  });

  it("answers 401 to tokens signed by whoever holds a broken entry's key, and logs the key set's unusable entries once, not per request", async () => {
    await fc.assert(
      fc.asyncProperty(
        brokenEntry(material, KID),
        fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
        async (broken, noise) => {
          published.document = { keys: [...issuer.jwks().keys, ...noise, ...broken.entries] };
          const warnings: string[] = [];
          const through = handlerFor(hostileJwks.jwksUri, (line) => warnings.push(line));
          const appToken = forge({ alg: 'RS256', typ: 'JWT', kid: KID }, tokens.appClaims(), broken.sign);
          const authorization = subjectAndAppHeader(tokens.subjectToken(), appToken);
          for (let i = 0; i < 3; i++) {
            const answer = await call(SEED, { authorization, 'x-ms-client-tenant-id': USER_TENANT }, through);
            expect(answer.status, broken.what).toBe(401);
            expectRejected(answer, 401, tokenSegments(authorization));
          }
          expect(warnings, broken.what).toHaveLength(1);
          expect(warnings[0]).toContain(JSON.stringify(KID));
          expect(warnings[0]).not.toMatch(/[\r\n\u0085\u2028\u2029]/);
        },
      ),
      { numRuns: 100 },
    );
  });
});
