import { AssertionSealError, type AssertionKeys, type RowBinding } from '../auth/assertionKeys';
import type { AuthenticatedCaller } from '../auth/subjectAndAppAuthenticator';
import type { TokenBroker } from '../auth/tokenBroker';
import { UserAssertionRefusedError } from '../auth/tokenFailure';
import { AuthUIRequiredError, describeError, InternalError, TokenServiceUnavailableError } from '../fabric/errors';
import { JobFailure, type JobUser } from '../handlers/jobHandler';
import type { HandlerRegistry } from '../handlers/registry';
import type { JobRecord } from '../jobs/jobRow';
import { USER_TOKEN_EXPIRED, type PollingUser } from '../jobs/lifecycle';
import type { LineLog } from '../telemetry/log';
import { MAX_STRING_PROPERTY_LENGTH } from '../text';

/** A stored token this close to its expiry is not exchanged: Entra would refuse it in flight. */
export const ASSERTION_USE_MARGIN_MS = 2 * 60_000;

/** What a job type with scopes adds to its new row: the user's token, sealed, and when it expires. */
export interface SealedUserAssertion {
  userAssertion?: string;
  userAssertionExpiresUtc?: Date;
}

/**
 * Acting for the user, for jobs: Create's pre-flight (the job type's scopes
 * exchanged now, while the user is there to consent), the sealed copy of the
 * user's token on the row, its refresh by the user's own polls, and the
 * runner's tokens from it. Job types without scopes never reach the broker.
 */
export class UserDelegation {
  constructor(
    private readonly handlers: HandlerRegistry,
    /** Absent when no job type declares scopes (the settings are then optional). */
    private readonly broker?: TokenBroker,
    private readonly keys?: AssertionKeys,
  ) {}

  /**
   * Before a Create writes anything: for a job type with scopes, an
   * on-behalf-of exchange for them (throws 401 AuthUIRequired when the user
   * must consent or pass a Conditional Access policy, 503 when Entra cannot
   * be reached), then the caller's token sealed for the row. Nothing for a
   * job type without scopes.
   */
  async preflight(
    job: RowBinding & { itemType: string; jobType: string },
    caller: AuthenticatedCaller,
    log: LineLog,
  ): Promise<SealedUserAssertion> {
    const scopes = this.handlers.scopesOf(job.itemType, job.jobType);
    if (scopes.length === 0) return {};
    const { broker, keys } = this.configured();
    const { subject } = caller;
    if (!subject || !Number.isFinite(subject.expiresOn.getTime()))
      throw new InternalError('a job Create with scopes came without a subject token (or one without exp)');
    // One exchange per resource: Entra issues a token for one resource at a time.
    const exchanges = await Promise.allSettled(
      byResource(scopes).map((group) =>
        broker.forUser({ subjectToken: subject.reveal(), tenantId: caller.tenantId }, group, { log }),
      ),
    );
    const failures = exchanges.flatMap((exchange) => (exchange.status === 'rejected' ? [exchange.reason] : []));
    // Every resource the user must consent to in one 401, so that one visit to the consent prompt is enough.
    const consent = failures.filter((error): error is AuthUIRequiredError => error instanceof AuthUIRequiredError);
    const first = consent.find((error) => error.claims !== '') ?? consent[0];
    if (first) throw first.forScopes(consent.flatMap((error) => error.scopes));
    if (failures.length > 0) throw failures[0];
    const userAssertion = keys.seal(subject.reveal(), job);
    if (userAssertion.length > MAX_STRING_PROPERTY_LENGTH) {
      throw new InternalError(
        `the caller's subject token sealed takes ${userAssertion.length} characters; a Table property holds at most ${MAX_STRING_PROPERTY_LENGTH}`,
      );
    }
    return { userAssertion, userAssertionExpiresUtc: subject.expiresOn };
  }

  /** The job type's declared scopes on `fallback`'s resource; `[fallback]` when it declared none there. */
  scopesFor(record: Pick<JobRecord, 'itemType' | 'jobType'>, fallback: string): readonly string[] {
    const resource = resourceOf(fallback).toLowerCase();
    const declared = this.handlers
      .scopesOf(record.itemType, record.jobType)
      .filter((scope) => resourceOf(scope).toLowerCase() === resource);
    return declared.length > 0 ? declared : [fallback];
  }

  /** A poll's user, whose token may refresh the job's stored one (lifecycle.ts decides whether it does). */
  poll(job: RowBinding, caller: AuthenticatedCaller): PollingUser | undefined {
    const { subject } = caller;
    if (!subject || !this.keys) return undefined;
    const keys = this.keys;
    return {
      tenantId: caller.tenantId,
      userObjectId: caller.userObjectId,
      expiresOn: subject.expiresOn,
      seal: () => keys.seal(subject.reveal(), job),
    };
  }

  /**
   * The job's user for its handler. `reread` reads the row again: a token
   * close to expiry may have been refreshed by a poll since the claim.
   */
  forJob(record: JobRecord, reread: () => Promise<JobRecord | undefined>, log: LineLog): JobUser {
    const declared = byResource(this.handlers.scopesOf(record.itemType, record.jobType));
    let stored: Pick<JobRecord, 'userAssertion' | 'userAssertionExpiresUtc'> = record;
    const usable = () =>
      stored.userAssertion !== undefined &&
      stored.userAssertionExpiresUtc !== undefined &&
      stored.userAssertionExpiresUtc.getTime() - Date.now() > ASSERTION_USE_MARGIN_MS;
    return {
      tenantId: record.tenantId,
      objectId: record.userObjectId,
      token: async (requested) => {
        if (declared.length === 0)
          throw new TypeError(`job type ${record.jobType} declares no scopes, so its jobs keep no user token`);
        if (requested === undefined && declared.length > 1) {
          throw new TypeError(
            `job type ${record.jobType} declares scopes of ${declared.length} resources; pass the scopes to token()`,
          );
        }
        const scopes = requested ?? declared[0]!;
        if (record.userAssertion === undefined) {
          // Created before its job type declared scopes (a deployment during the job), or written by another tool.
          log.warn('the job keeps no user token (it was created without one): it fails with UserTokenExpired');
          throw new JobFailure(USER_TOKEN_EXPIRED);
        }
        if (!usable()) stored = (await reread()) ?? stored;
        if (!usable()) {
          log.warn("the user's stored token has expired (no poll refreshed it): the job fails with UserTokenExpired");
          throw new JobFailure(USER_TOKEN_EXPIRED);
        }
        const { broker, keys } = this.configured();
        let assertion: string;
        try {
          assertion = keys.open(stored.userAssertion!, record);
        } catch (error) {
          if (!(error instanceof AssertionSealError)) throw error;
          log.error(`${error.message}; the job fails with UserTokenExpired`);
          throw new JobFailure(USER_TOKEN_EXPIRED);
        }
        try {
          const { token } = await broker.forUser({ subjectToken: assertion, tenantId: record.tenantId }, scopes, {
            log,
          });
          return token;
        } catch (error) {
          throw asJobFailure(error);
        }
      },
    };
  }

  private configured(): { broker: TokenBroker; keys: AssertionKeys } {
    if (!this.broker || !this.keys)
      throw new InternalError('acting for the user needs WORKLOAD_CLIENT_CREDENTIAL and USER_ASSERTION_KEY');
    return { broker: this.broker, keys: this.keys };
  }
}

/** A broker failure inside a job as the job's failure: the consent answer's details, or Entra being down (not permanent). */
function asJobFailure(error: unknown): unknown {
  if (error instanceof AuthUIRequiredError) {
    return new JobFailure({
      errorCode: error.errorCode,
      message: error.message,
      source: 'System',
      isPermanent: false,
      moreDetails: error.moreDetails,
    });
  }
  // Entra refused the stored token itself (expired early, revoked, the user disabled): running it again gets a fresh one.
  if (error instanceof UserAssertionRefusedError) return new JobFailure(USER_TOKEN_EXPIRED);
  if (error instanceof TokenServiceUnavailableError) {
    return new JobFailure({
      errorCode: error.errorCode,
      message: "Entra ID could not be reached for a token on the user's behalf. Run the job again.",
      source: 'System',
      isPermanent: false,
    });
  }
  return new Error(`a token on the user's behalf failed: ${describeError(error)}`);
}

/** The resource a scope names: everything before its last `/` (`https://storage.azure.com/user_impersonation` → `https://storage.azure.com`). */
export function resourceOf(scope: string): string {
  const slash = scope.lastIndexOf('/');
  return slash > 0 ? scope.slice(0, slash) : scope;
}

/** Scopes grouped by resource, in the order first named. */
export function byResource(scopes: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const scope of scopes) {
    const resource = resourceOf(scope).toLowerCase();
    groups.set(resource, [...(groups.get(resource) ?? []), scope]);
  }
  return [...groups.values()];
}
