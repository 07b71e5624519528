import jwt from 'jsonwebtoken';
import { isPlainObject } from '../fabric/contract';
import { AuthError } from '../fabric/errors';
import { isGuid } from '../ids';
import { forLog } from '../logValue';
import type { SigningKey } from './jwks';

export interface TokenExpectations {
  /** e.g. https://login.microsoftonline.com, no trailing slash. */
  authorityHost: string;
  /** Expected `aud` of v1.0 tokens: the Application ID URI. */
  v1Audience: string;
  /** Expected `aud` of v2.0 tokens: the client id. */
  v2Audience: string;
  clockSkewSeconds: number;
}

export type KeyLookup = (kid: string) => Promise<SigningKey | undefined>;

export interface EntraAccessToken {
  version: '1.0' | '2.0';
  /** The token's `tid`, lowercase. */
  tenantId: string;
  /** `appid` (v1.0) or `azp` (v2.0). */
  appId: string;
  claims: Record<string, unknown>;
}

/**
 * Validates one Entra ID access token (v1.0 or v2.0) the way Microsoft's
 * reference backend does, plus signing-key issuer validation. `label` names
 * the token in the log reason ("app token", "subject token").
 */
export async function validateEntraAccessToken(
  token: string,
  label: string,
  findKey: KeyLookup,
  expected: TokenExpectations,
  nowMs: number,
): Promise<EntraAccessToken> {
  // The rule's prefix names the token without spaces: appToken, subjectToken.
  const prefix = label.replace(/ (\w)/g, (_, c: string) => c.toUpperCase());
  const fail = (rule: string, reason: string): never => {
    throw new AuthError(`${prefix}.${rule}`, `${label}: ${reason}`);
  };

  const header = decodeSegment(token, 0);
  if (!header) return fail('header', 'header is not a JSON object');
  if (header.alg !== 'RS256') return fail('alg', `alg ${forLog(header.alg)} is not RS256`);
  if (typeof header.kid !== 'string' || header.kid === '') return fail('kid', 'header has no kid');

  // The payload's form is checked before the library sees the token, so that
  // the library's errors can only mean a bad signature or lifetime.
  const unverified = decodeSegment(token, 1);
  if (!unverified) return fail('payload', 'payload is not a JSON object');
  const { exp, nbf } = unverified;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return fail('exp', 'exp is missing or not a finite number');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > exp))
    return fail('nbf', 'nbf is not a number or is after exp');

  const signingKey = await findKey(header.kid);
  if (!signingKey)
    return fail('unknownKey', `kid ${forLog(header.kid)} is not in the JWKS, or its entry there is unusable`);

  let payload: unknown;
  try {
    payload = jwt.verify(token, signingKey.key, {
      algorithms: ['RS256'],
      clockTolerance: expected.clockSkewSeconds,
      clockTimestamp: Math.floor(nowMs / 1000),
    });
  } catch (error) {
    return fail(...libraryRejection(error, expected.clockSkewSeconds));
  }
  if (!isPlainObject(payload)) return fail('payload', 'payload is not a JSON object');
  const claims = payload;

  const version = claims.ver;
  if (version !== '1.0' && version !== '2.0') return fail('ver', `ver ${forLog(version)} is neither 1.0 nor 2.0`);

  const tid = claims.tid;
  if (!isGuid(tid)) return fail('tid', 'tid is missing or not a GUID');

  const v2Issuer = `${expected.authorityHost}/${tid}/v2.0`;
  const issuer = version === '1.0' ? `https://sts.windows.net/${tid}/` : v2Issuer;
  if (claims.iss !== issuer) return fail('issuer', `iss ${forLog(claims.iss, 200)} is not ${JSON.stringify(issuer)}`);

  if (signingKey.issuer !== undefined) {
    const keyIssuer = signingKey.issuer.replace('{tenantid}', tid);
    if (keyIssuer !== v2Issuer)
      return fail(
        'keyIssuer',
        `signing key ${forLog(header.kid)} is for issuer ${forLog(signingKey.issuer, 200)}, not for tenant ${tid}`,
      );
  }

  const audience = version === '1.0' ? expected.v1Audience : expected.v2Audience;
  const aud = claims.aud;
  const audOk = Array.isArray(aud) ? aud.includes(audience) : aud === audience;
  if (!audOk) return fail('audience', `aud ${forLog(aud, 200)} does not contain ${JSON.stringify(audience)}`);

  const appIdClaim = version === '1.0' ? 'appid' : 'azp';
  const appId = claims[appIdClaim];
  if (typeof appId !== 'string' || appId === '') return fail('appId', `${appIdClaim} is missing`);

  return { version, tenantId: tid.toLowerCase(), appId: appId.toLowerCase(), claims };
}

/** Segment 0 (header) or 1 (payload) as a JSON object, or undefined. */
function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token.split('.', 2)[index] ?? '', 'base64url').toString('utf8'));
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A fixed reason for each kind of error jsonwebtoken throws, told apart by
 * class, never by message: a message may quote the token (V8's SyntaxError
 * quotes the JSON it failed on, CR and LF included), and nothing a caller
 * sends may shape a log line.
 */
function libraryRejection(error: unknown, skewSeconds: number): [rule: string, reason: string] {
  if (error instanceof jwt.TokenExpiredError)
    return ['expired', `expired: exp is more than ${skewSeconds} s before now`];
  if (error instanceof jwt.NotBeforeError)
    return ['notYetValid', `not valid yet: nbf is more than ${skewSeconds} s after now`];
  if (error instanceof jwt.JsonWebTokenError)
    return ['signature', 'invalid signature, or a JWS that jsonwebtoken cannot read'];
  return ['rejected', 'rejected by jsonwebtoken with an unexpected kind of error'];
}
