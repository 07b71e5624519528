/**
 * One operation of the app against its floor, in process: what the jobs and
 * the toolkit parts of `npm run bench` measure. The floor does exactly the
 * storage calls of the operation (checked by counting both before they are
 * measured) and the RS256 verifications its authentication needs, so the
 * ratio is the app's own overhead.
 */
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { countStorageCalls, describeCalls, sameCalls, type StorageCalls } from './benchStorageCalls';
import { invoke, matchRoutes, type FunctionsModule } from './localHost';

export interface BenchOperation {
  /** The contract's name of the operation, as the report shows it. */
  operation: string;
  /** The storage requests one call makes, invocation and floor alike. */
  calls: StorageCalls;
  /** RS256 verifications one call's authentication makes (the validated-token cache off). */
  verifications: number;
  /** Sets up the state the next `count` calls need (fresh rows), outside the measurement. */
  prepare?: (count: number) => Promise<void>;
  floor: () => Promise<void>;
  invocation: () => Promise<void>;
}

export interface OperationCost {
  operation: string;
  /** What the floor does, e.g. "1 read, 1 replace + 2 RS256". */
  floor: string;
  invocationUs: number;
  floorUs: number;
}

/** CPU microseconds per call of `once` at `concurrency`, `prepare` run before each batch with the batch's count. */
export type CpuPerCall = (
  once: () => Promise<void>,
  concurrency: number,
  prepare?: (count: number) => Promise<void>,
) => Promise<number>;

export interface TokenFixture {
  subjectToken: string;
  appToken: string;
  publicKey: KeyObject;
}

/** The floor's verifications: the app token, and the subject token when there are two. */
export function verifier(fixture: TokenFixture, verifications: 1 | 2): () => void {
  const verify = (token: string) => jwt.verify(token, fixture.publicKey, { algorithms: ['RS256'] });
  return verifications === 1
    ? () => void verify(fixture.appToken)
    : () => {
        verify(fixture.subjectToken);
        verify(fixture.appToken);
      };
}

export const floorDescription = (operation: BenchOperation) =>
  `${describeCalls(operation.calls)} + ${operation.verifications} RS256`;

/** The floor, then the invocation, each at 1 call at a time, after checking that both make the declared calls. */
export async function measureOperation(operation: BenchOperation, cpuPerCall: CpuPerCall): Promise<OperationCost> {
  await checkCalls(operation);
  const floorUs = await cpuPerCall(operation.floor, 1, operation.prepare);
  const invocationUs = await cpuPerCall(operation.invocation, 1, operation.prepare);
  return { operation: operation.operation, floor: floorDescription(operation), invocationUs, floorUs };
}

async function checkCalls(operation: BenchOperation): Promise<void> {
  for (const [what, once] of [
    ['invocation', operation.invocation],
    ['floor', operation.floor],
  ] as const) {
    await operation.prepare?.(1);
    const calls = await countStorageCalls(once);
    if (!sameCalls(calls, operation.calls)) {
      throw new Error(
        `${operation.operation}: its ${what} made ${describeCalls(calls)}, the floor stands for ${describeCalls(operation.calls)}`,
      );
    }
  }
}

/** One call of the function as the Functions worker makes it, without HTTP; `path` under the `api` prefix, `body` fixed or made per call. */
export function invocation(
  functions: FunctionsModule,
  method: string,
  path: () => string,
  headers: Record<string, string>,
  expected: number,
  body?: string | (() => string),
): () => Promise<void> {
  return async () => {
    const text = typeof body === 'function' ? body() : body;
    const url = `http://localhost/api${path()}`;
    const matched = matchRoutes(functions.routes, new URL(url).pathname).find(({ route }) =>
      route.methods.includes(method as never),
    )!;
    const request = {
      method,
      url,
      headers,
      params: matched.params,
      body: text === undefined ? undefined : { bytes: Buffer.from(text) },
    };
    const response = await invoke(functions, matched.route, request, () => undefined);
    if (response.status !== expected) {
      throw new Error(`${method} ${new URL(url).pathname} answered ${response.status}: ${String(response.body)}`);
    }
  };
}
