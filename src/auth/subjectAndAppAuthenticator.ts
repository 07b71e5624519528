import { AuthError } from '../fabric/errors';
import { forLog } from '../logValue';
import { validateEntraAccessToken, type EntraAccessToken, type KeyLookup, type TokenExpectations } from './entraToken';
import { parseClientTenantHeader, parseSubjectAndAppHeader } from './subjectAndAppHeader';
import { ValidatedTokenCache } from './validatedTokenCache';

/** App ids that Fabric's app-only tokens carry. */
export const FABRIC_APP_IDS: readonly string[] = [
  '00000009-0000-0000-c000-000000000000', // Fabric / Power BI service
  'd2450708-699c-41e3-8077-b0c8341509aa', // Fabric Client for Workloads
];
export const REQUIRED_SUBJECT_SCOPE = 'FabricWorkloadControl';

export interface AuthenticatorOptions extends TokenExpectations {
  /** The app token's tid must equal it (lowercase). */
  publisherTenantId: string;
  findKey: KeyLookup;
  /** Changes when the signing keys change; validated tokens of an older key set are not reused. */
  keySetVersion?: () => number;
  /** Bound of the validated-token cache; 0 turns it off. */
  validatedTokenCacheSize?: number;
  now?: () => number;
}

/** A call proven to come from Fabric, on behalf of no particular tenant (endpoint resolution). */
export interface AuthenticatedApp {
  /** The Fabric app that called. */
  appId: string;
}

export interface AuthenticatedCaller extends AuthenticatedApp {
  /** The user's tenant: the subject token's tid, equal to x-ms-client-tenant-id. */
  tenantId: string;
  /** The user's object id (the subject token's oid), when it has one. */
  userObjectId?: string;
  /** The validated subject token, to act on the user's behalf; absent for a call that came without a user. */
  subject?: SubjectToken;
}

/**
 * A validated subject token, held so that it cannot reach a log by accident:
 * no enumerable property holds it, and JSON and util.inspect show a
 * placeholder. `reveal()` is for the token broker and the sealing of a job's
 * copy only.
 */
export class SubjectToken {
  readonly #token: string;

  constructor(
    token: string,
    /** Its `exp`. */
    readonly expiresOn: Date,
  ) {
    this.#token = token;
  }

  reveal(): string {
    return this.#token;
  }

  toJSON(): string {
    return '[subject token]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SubjectToken [hidden]';
  }
}

/**
 * A call for a tenant that may come with no user (the toolkit's OnDeleteItem
 * and OnRestoreItem): `user` false means no subject token came, and the tenant
 * is x-ms-client-tenant-id's word, vouched for by Fabric's valid app token.
 */
export interface AuthenticatedTenantCall extends AuthenticatedCaller {
  user: boolean;
}

export interface AuthHeaders {
  authorization: string | null;
  clientTenantId: string | null;
}

/** Checks a SubjectAndApp request from Fabric; every failure is an AuthError. */
export class SubjectAndAppAuthenticator {
  private readonly now: () => number;
  private readonly keySetVersion: () => number;
  private readonly validated: ValidatedTokenCache;

  constructor(private readonly options: AuthenticatorOptions) {
    this.now = options.now ?? Date.now;
    this.keySetVersion = options.keySetVersion ?? (() => 0);
    this.validated = new ValidatedTokenCache(options.validatedTokenCacheSize);
  }

  async authenticate(headers: AuthHeaders): Promise<AuthenticatedCaller> {
    const clientTenantId = parseClientTenantHeader(headers.clientTenantId);
    const { subjectToken, appToken } = parseSubjectAndAppHeader(headers.authorization);
    if (subjectToken === '') {
      throw new AuthError(
        'subjectToken.empty',
        'subject token is empty or missing, which this endpoint does not allow',
      );
    }
    return this.checkPair(subjectToken, appToken, clientTenantId);
  }

  /**
   * Both tokens when a subject token is sent (every rule of `authenticate`);
   * without one (empty, or its key missing) the app token alone, fully checked,
   * and x-ms-client-tenant-id still required: Fabric's valid app token vouches
   * for the tenant it names.
   */
  async authenticateWithOptionalSubject(headers: AuthHeaders): Promise<AuthenticatedTenantCall> {
    const clientTenantId = parseClientTenantHeader(headers.clientTenantId);
    const { subjectToken, appToken } = parseSubjectAndAppHeader(headers.authorization);
    if (subjectToken !== '') return { ...(await this.checkPair(subjectToken, appToken, clientTenantId)), user: true };
    const app = await this.validate(appToken, 'app token', this.now());
    checkAppToken(app, this.options.publisherTenantId);
    return { tenantId: clientTenantId, appId: app.appId, user: false };
  }

  private async checkPair(
    subjectToken: string,
    appToken: string,
    clientTenantId: string,
  ): Promise<AuthenticatedCaller> {
    const now = this.now();
    // Independent until both are known; a failure of the app token is reported
    // first, as when they were checked one after the other.
    const [app, subject] = await Promise.allSettled([
      this.validate(appToken, 'app token', now),
      this.validate(subjectToken, 'subject token', now),
    ]);
    checkAppToken(settled(app), this.options.publisherTenantId);
    checkSubjectToken(settled(subject), settled(app), clientTenantId);
    const { oid, exp } = settled(subject).claims;
    return {
      tenantId: settled(subject).tenantId,
      appId: settled(app).appId,
      userObjectId: typeof oid === 'string' && oid !== '' ? oid : undefined,
      subject: new SubjectToken(subjectToken, new Date(Number(exp) * 1000)),
    };
  }

  /**
   * For calls Fabric makes for no user and no tenant (EndpointResolution_Resolve):
   * the same header form and the same app-token checks; no x-ms-client-tenant-id
   * is read. The subject token may be empty; one that is sent is still checked
   * (delegated, FabricWorkloadControl, same app), only not against a tenant header.
   */
  async authenticateApp(authorization: string | null): Promise<AuthenticatedApp> {
    const { subjectToken, appToken } = parseSubjectAndAppHeader(authorization);
    const now = this.now();
    const app = await this.validate(appToken, 'app token', now);
    checkAppToken(app, this.options.publisherTenantId);
    if (subjectToken !== '') checkSubjectToken(await this.validate(subjectToken, 'subject token', now), app, undefined);
    return { appId: app.appId };
  }

  private async validate(token: string, label: string, now: number): Promise<EntraAccessToken> {
    const id = ValidatedTokenCache.idOf(token);
    const keySetVersion = this.keySetVersion();
    const cached = this.validated.get(id, now, keySetVersion);
    if (cached) return cached;
    const validated = await validateEntraAccessToken(token, label, this.options.findKey, this.options, now);
    return this.validated.remember(id, validated, keySetVersion, now);
  }
}

function settled<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

function checkAppToken(app: EntraAccessToken, publisherTenantId: string): void {
  const { claims } = app;
  if (claims.idtyp !== 'app')
    throw new AuthError('appToken.idtyp', `app token: idtyp ${forLog(claims.idtyp)} is not "app"`);
  if (typeof claims.oid !== 'string' || claims.oid === '')
    throw new AuthError('appToken.oid', 'app token: oid is missing');
  if (claims.scp !== undefined)
    throw new AuthError('appToken.scp', 'app token: has an scp claim, so it is not app-only');
  if (!FABRIC_APP_IDS.includes(app.appId))
    throw new AuthError('appToken.notFabric', `app token: app id ${forLog(app.appId)} is not one of Fabric's`);
  if (app.tenantId !== publisherTenantId) {
    throw new AuthError(
      'appToken.publisherTenant',
      `app token: tid ${app.tenantId} is not the publisher tenant ${publisherTenantId}`,
    );
  }
}

/** `clientTenantId` undefined: the call carries no tenant header to compare with. */
function checkSubjectToken(subject: EntraAccessToken, app: EntraAccessToken, clientTenantId: string | undefined): void {
  const { claims } = subject;
  if (claims.idtyp !== undefined)
    throw new AuthError(
      'subjectToken.idtyp',
      `subject token: has idtyp ${forLog(claims.idtyp)}, so it is not delegated`,
    );
  const scopes = typeof claims.scp === 'string' ? claims.scp.split(' ') : [];
  if (!scopes.includes(REQUIRED_SUBJECT_SCOPE))
    throw new AuthError('subjectToken.scope', `subject token: scp does not contain ${REQUIRED_SUBJECT_SCOPE}`);
  if (subject.appId !== app.appId) {
    throw new AuthError(
      'subjectToken.appId',
      `subject token: app id ${forLog(subject.appId)} differs from the app token's ${forLog(app.appId)}`,
    );
  }
  if (clientTenantId !== undefined && subject.tenantId !== clientTenantId) {
    throw new AuthError(
      'subjectToken.tenantHeader',
      `subject token: tid ${subject.tenantId} is not x-ms-client-tenant-id ${clientTenantId}`,
    );
  }
}
