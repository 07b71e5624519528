/**
 * Acting for the user, `npm run bench`'s part: what Create's pre-flight
 * on-behalf-of exchange costs. In this process, one app built from the
 * sources (the validated-token cache off, as every operation of the bench),
 * two job types of the demo item: the demo's, which declares OneLake's scope,
 * and the same handler registered without scopes (dev/benchHandlers.ts).
 *  - warm: the same user's token every call, so MSAL answers the exchange
 *    from its cache; the token endpoint's request count is checked to stay
 *    the same over the measured calls. Batches of the two job types
 *    alternate (the order flips each round), the same number of calls each,
 *    every call timed on its own (CPU of this process and wall clock);
 *  - cold: each Create by a user MSAL has not seen (a fresh subject token of
 *    another oid): one HTTPS exchange with the loopback token endpoint per
 *    call, whose own work (TLS, verifying and signing) runs in this process
 *    too, so only the wall clock is reported.
 * Before anything is measured, both job types' Creates are checked to make
 * the same storage requests (1 insert, 1 read, 1 enqueue).
 */
import { randomUUID } from 'node:crypto';
import { QueueClient } from '@azure/storage-queue';
import { createDependencies } from '../src/app';
import { readConfig } from '../src/config';
import { jobInstancePath } from '../src/http/jobPath';
import { toItemEntity } from '../src/items/itemRow';
import { createTableClient } from '../src/storage/tableClient';
import { benchHandlers, UNSCOPED_JOB_TYPE } from './benchHandlers';
import { demoItemRecord, type JobBenchFixture } from './benchJobs';
import { invocation } from './benchOperation';
import { countStorageCalls, describeCalls, sameCalls, type StorageCalls } from './benchStorageCalls';
import { DEMO_JOB } from './devSettings';
import { sourceFunctions } from './sourceFunctions';

export interface UserBenchFixture extends JobBenchFixture {
  /** How many requests the token endpoint has received so far. */
  tokenRequests(): number;
  /** The headers of a user MSAL has never seen: a fresh subject token of a new oid, the same app token. */
  newUserHeaders(): Record<string, string>;
}

export interface UserBenchRuns {
  /** Calls of each job type before anything is measured. */
  warmUp: number;
  /** Rounds of one batch of each job type. */
  rounds: number;
  /** Calls in one batch. */
  batch: number;
  /** Creates by new users (one exchange each). */
  cold: number;
}

export interface Spread {
  mean: number;
  p50: number;
  p99: number;
}

export interface CallCosts {
  calls: number;
  /** CPU of this process per call, µs. */
  cpuUs: Spread;
  /** Wall clock per call, µs. */
  wallUs: Spread;
}

export interface UserCreateFigures {
  /** Create of the demo job type (OneLake's scope): the pre-flight answered from MSAL's cache. */
  withScopes: CallCosts;
  /** Create of the same job without scopes, in the same rounds. */
  withoutScopes: CallCosts;
  rounds: number;
  /** The ratio of mean CPU per call (with / without) in each round: the lowest and the highest. */
  roundRatios: { min: number; max: number };
  /** Requests the token endpoint received during the measured calls: 0, or the figures are not of a warm cache. */
  tokenRequests: number;
  /** The storage requests of one Create, either job type. */
  storageCalls: string;
  /** Creates by new users: a real exchange each. */
  cold: { calls: number; wallUs: Spread; tokenRequests: number };
}

const CREATE_BODY = JSON.stringify({ invokeType: 'Manual', creationPayload: { durationSeconds: 0 } });
const CREATE_CALLS: StorageCalls = { insert: 1, read: 1, enqueue: 1 };

export async function userCreateCosts(fixture: UserBenchFixture, runs: UserBenchRuns): Promise<UserCreateFigures> {
  const config = readConfig({
    ...fixture.settings,
    JOB_QUEUE_NAME: 'bench-operations', // no runner reads it
    JOB_STATE_TABLE_NAME: 'BenchUserJobs',
    ITEMS_TABLE_NAME: 'BenchUserItems',
  });
  const jobs = createTableClient(config.table, config.tableName, {});
  const items = createTableClient(config.table, config.itemsTableName, {});
  await Promise.all([jobs.createTable(), items.createTable()]);
  await items.createEntity(toItemEntity(demoItemRecord(fixture.tenantId)));
  await new QueueClient(fixture.settings.JobQueue, config.queueName).createIfNotExists();
  const functions = sourceFunctions(
    createDependencies(config, { env: {}, validatedTokenCacheSize: 0, handlers: benchHandlers }),
  );
  const create = (jobType: string, headers: Record<string, string>) =>
    invocation(
      functions,
      'POST',
      () => jobInstancePath({ ...DEMO_JOB, jobType, jobInstanceId: randomUUID() }),
      headers,
      202,
      CREATE_BODY,
    );
  const withScopes = create(DEMO_JOB.jobType, fixture.headers);
  const withoutScopes = create(UNSCOPED_JOB_TYPE, fixture.headers);

  // The first Create with scopes makes the exchange that fills MSAL's cache; the check counts its storage calls.
  for (const [name, once] of [
    ['with scopes', withScopes],
    ['without scopes', withoutScopes],
  ] as const) {
    const calls = await countStorageCalls(once);
    if (!sameCalls(calls, CREATE_CALLS))
      throw new Error(`Create ${name} made ${describeCalls(calls)}, not ${describeCalls(CREATE_CALLS)}`);
  }
  for (let i = 0; i < runs.warmUp; i++) {
    await withScopes();
    await withoutScopes();
  }

  const samples = { withScopes: [] as Sample[], withoutScopes: [] as Sample[] };
  const ratios: number[] = [];
  const requestsBefore = fixture.tokenRequests();
  for (let round = 0; round < runs.rounds; round++) {
    const scoped: Sample[] = [];
    const unscoped: Sample[] = [];
    const batches: [() => Promise<void>, Sample[]][] = [
      [withScopes, scoped],
      [withoutScopes, unscoped],
    ];
    for (const [once, into] of round % 2 === 0 ? batches : [...batches].reverse()) {
      for (let i = 0; i < runs.batch; i++) into.push(await timed(once));
    }
    ratios.push(mean(scoped.map((s) => s.cpuUs)) / mean(unscoped.map((s) => s.cpuUs)));
    samples.withScopes.push(...scoped);
    samples.withoutScopes.push(...unscoped);
  }
  const tokenRequests = fixture.tokenRequests() - requestsBefore;
  if (tokenRequests !== 0)
    throw new Error(`the token endpoint received ${tokenRequests} requests while MSAL's cache should have answered`);

  // Cold: headers signed before, outside the measurement.
  const coldCalls = Array.from({ length: runs.cold }, () => create(DEMO_JOB.jobType, fixture.newUserHeaders()));
  const coldBefore = fixture.tokenRequests();
  const cold: Sample[] = [];
  for (const once of coldCalls) cold.push(await timed(once));
  const coldRequests = fixture.tokenRequests() - coldBefore;
  if (coldRequests !== runs.cold)
    throw new Error(`${runs.cold} Creates by new users made ${coldRequests} token requests, not one each`);

  return {
    withScopes: costs(samples.withScopes),
    withoutScopes: costs(samples.withoutScopes),
    rounds: runs.rounds,
    roundRatios: { min: Math.min(...ratios), max: Math.max(...ratios) },
    tokenRequests,
    storageCalls: describeCalls(CREATE_CALLS),
    cold: { calls: runs.cold, wallUs: spread(cold.map((s) => s.wallUs)), tokenRequests: coldRequests },
  };
}

interface Sample {
  cpuUs: number;
  wallUs: number;
}

/** One call, timed on its own: nothing else runs in this process meanwhile (one call at a time). */
async function timed(once: () => Promise<void>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await once();
  const wallUs = Number(process.hrtime.bigint() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, wallUs };
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { mean: mean(values), p50: at(0.5), p99: at(0.99) };
}

function costs(samples: Sample[]): CallCosts {
  return {
    calls: samples.length,
    cpuUs: spread(samples.map((s) => s.cpuUs)),
    wallUs: spread(samples.map((s) => s.wallUs)),
  };
}
