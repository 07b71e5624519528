/**
 * A stand-in for Entra ID on loopback: RSA keys, a JWKS whose entries carry
 * Entra-style `issuer` fields, and RS256 tokens. For tests and the local
 * development stack only; it refuses to run inside Azure.
 */
import { createServer, type Server } from 'node:http';
import { createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { azureHostMarker } from '../src/azureHost';
import { isLoopbackHost } from '../src/url';

export const ENTRA_KEY_ISSUER_TEMPLATE = '{authority}/{tenantid}/v2.0';

export interface IssuerKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The JWKS entry's `issuer`; undefined publishes the key without one. */
  issuer?: string;
  /** Rewrites the published JWKS entry; see AddKeyOptions.entry. */
  entry?: (entry: Record<string, unknown>) => Record<string, unknown>;
}

export interface AddKeyOptions {
  kid?: string;
  /** Default: Entra's template `{authority}/{tenantid}/v2.0`; null: no issuer field. */
  issuer?: string | null;
  /** Of a generated key; default 2048. Tests publish weaker keys to see them refused. */
  modulusLength?: number;
  /** Of a generated key; default 65537. */
  publicExponent?: number;
  /** Rewrites the key's JWKS entry as published: tests publish malformed or inconsistent entries with it. */
  entry?: (entry: Record<string, unknown>) => Record<string, unknown>;
}

/** Throws inside Azure (src/azureHost.ts decides): a development issuer must never vouch for production calls. */
export function assertOutsideAzure(env: Record<string, string | undefined> = process.env): void {
  const marker = azureHostMarker(env);
  if (marker) throw new Error(`The development token issuer refuses to run inside Azure (${marker} is set).`);
}

export class TokenIssuer {
  private readonly published: IssuerKey[] = [];

  constructor(readonly authorityHost = 'https://login.microsoftonline.com') {
    assertOutsideAzure();
  }

  /** Publishes a new RSA key (or `privateKey`, to keep a key across runs). */
  addKey(options: AddKeyOptions = {}, privateKey?: KeyObject): IssuerKey {
    const pair = privateKey
      ? { privateKey, publicKey: createPublicKey(privateKey) }
      : generateKeyPairSync('rsa', {
          modulusLength: options.modulusLength ?? 2048,
          publicExponent: options.publicExponent ?? 65537,
        });
    const issuer =
      options.issuer === null
        ? undefined
        : (options.issuer ?? ENTRA_KEY_ISSUER_TEMPLATE.replace('{authority}', this.authorityHost));
    const key: IssuerKey = {
      kid: options.kid ?? randomUUID(),
      privateKey: pair.privateKey,
      publicKey: pair.publicKey,
      issuer,
      entry: options.entry,
    };
    this.published.push(key);
    return key;
  }

  removeKey(kid: string): void {
    const index = this.published.findIndex((key) => key.kid === kid);
    if (index >= 0) this.published.splice(index, 1);
  }

  get keys(): readonly IssuerKey[] {
    return this.published;
  }

  jwks(): { keys: Record<string, unknown>[] } {
    return {
      keys: this.published.map((key) => {
        const { n, e } = key.publicKey.export({ format: 'jwk' });
        const entry = { kty: 'RSA', use: 'sig', kid: key.kid, n, e, ...(key.issuer ? { issuer: key.issuer } : {}) };
        return key.entry ? key.entry(entry) : entry;
      }),
    };
  }

  /**
   * Signs `claims` with RS256 under the first published key, or `key`. An
   * `iat` is kept when it is a number (as Entra's tokens carry it; Azurite's
   * OAuth refuses a token without one) and never added.
   */
  sign(claims: Record<string, unknown>, key: IssuerKey = this.published[0]): string {
    if (!key) throw new Error('the issuer has no key; call addKey() first');
    // jsonwebtoken's noTimestamp also deletes an iat of the claims; without it, it keeps a given iat.
    const noTimestamp = typeof claims.iat !== 'number';
    return jwt.sign(claims, key.privateKey, { algorithm: 'RS256', keyid: key.kid, noTimestamp });
  }
}

export type JwksBehaviour = 'serve' | 'fail' | 'malformed' | 'empty' | 'reset' | 'hang' | 'drip';

/** Every way the JWKS endpoint can misbehave, for fault tests. */
export const JWKS_FAULTS = [
  'fail',
  'malformed',
  'empty',
  'reset',
  'hang',
  'drip',
] as const satisfies readonly JwksBehaviour[];

export interface JwksServer {
  /** e.g. http://127.0.0.1:1234/common/discovery/v2.0/keys */
  jwksUri: string;
  /** How many JWKS requests arrived. */
  readonly requests: number;
  /**
   * serve: the JWKS; fail: HTTP 500; malformed: 200 with a body that is not JSON; empty: 200 with
   * `{"keys":[]}`; reset: the connection dropped without an answer; hang: never answer; drip: one
   * byte per second, never finishing.
   */
  behaviour: JwksBehaviour;
  close(): Promise<void>;
}

export const JWKS_PATH = '/common/discovery/v2.0/keys';

/** Serves the issuer's JWKS over HTTP, on a loopback address only. */
export async function startJwksServer(issuer: TokenIssuer, host = '127.0.0.1', port = 0): Promise<JwksServer> {
  if (!isLoopbackHost(host)) throw new Error(`The development JWKS server listens on loopback only, not on ${host}.`);
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const state = { behaviour: 'serve' as JwksBehaviour };
  const server: Server = createServer((req, res) => {
    if (req.url !== JWKS_PATH) {
      res.writeHead(404).end();
      return;
    }
    requests++;
    switch (state.behaviour) {
      case 'serve':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuer.jwks()));
        return;
      case 'fail':
        res.writeHead(500).end('unavailable');
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[{"kty":"RSA",');
        return;
      case 'empty':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[');
        const timer = setInterval(() => res.write(' '), 1000);
        timers.add(timer);
        res.on('close', () => clearInterval(timer));
        return;
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    jwksUri: `http://${host}:${address.port}${JWKS_PATH}`,
    get requests() {
      return requests;
    },
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(value: JwksBehaviour) {
      state.behaviour = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        timers.forEach(clearInterval);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
