/**
 * Signing-key faults, end to end through the local host, for every way the
 * JWKS endpoint can fail: HTTP 500, malformed JSON, an empty key set, a
 * dropped connection, a hang, a drip, and nothing listening at all.
 * test/unit/auth/signingKeyStore.test.ts checks the same matrix on the store with
 * a fake clock (including the 12-hour refresh); here the clock is real.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { subjectAndAppHeader } from '../../dev/fabricTokens';
import { JWKS_FAULTS, startJwksServer, TokenIssuer, type JwksServer } from '../../dev/tokenIssuer';
import { expectUnavailable, figure, timed } from '../fixtures/faultRun';
import type { HttpAnswer } from '../fixtures/http';
import { jobPath, SEED, startStack, type TestStack } from '../fixtures/stack';

const SEED_ANSWER = '{"status":"InProgress","startTimeUtc":"2023-12-10T14:41:39.412Z"}';
const FAULTS = [...JWKS_FAULTS, 'down'] as const;
type Fault = (typeof FAULTS)[number];
const JWKS_FETCH_DEADLINE_S = 5;
const COLD_RETRY_S = 10;

const many = (count: number, send: () => Promise<HttpAnswer>) =>
  Promise.all(Array.from({ length: count }, () => timed(send)));

async function breakJwks(s: TestStack, fault: Fault): Promise<void> {
  if (fault === 'down') await s.jwks.close();
  else s.jwks.behaviour = fault;
}

/** The JWKS endpoint answers again at the same address: for `down`, a new server there. */
async function repairJwks(s: TestStack, fault: Fault): Promise<JwksServer | undefined> {
  if (fault === 'down') return startJwksServer(s.issuer, '127.0.0.1', Number(new URL(s.jwks.jwksUri).port));
  s.jwks.behaviour = 'serve';
  return undefined;
}

const jwksWarnings = (s: TestStack) => s.logs.filter((l) => l.line.includes('JWKS fetch from'));

describe.concurrent.each(FAULTS)('a JWKS endpoint that fails with %s', (fault) => {
  it(
    'cold: concurrent requests share one fetch, get 503 SigningKeysUnavailable within its deadline, and the host recovers by itself',
    { timeout: 60_000 },
    async () => {
      const s = await startStack({}, { jwks: fault });
      let repaired: JwksServer | undefined;
      try {
        await s.seed();
        const headers = s.headers();
        const cold = await many(32, () => s.get(jobPath(SEED), headers));
        for (const { value } of cold) {
          expectUnavailable(value, 'SigningKeysUnavailable');
          expect(Number(value.headers['retry-after'])).toBeLessThanOrEqual(COLD_RETRY_S);
        }
        const fetches = () => (fault === 'down' ? (repaired?.requests ?? 0) : s.jwks.requests);
        expect(fetches()).toBe(fault === 'down' ? 0 : 1);
        // While it is still broken, requests are answered without a fetch each.
        for (const { value } of await many(16, () => s.get(jobPath(SEED), headers)))
          expectUnavailable(value, 'SigningKeysUnavailable');
        expect(fetches()).toBe(fault === 'down' ? 0 : 1);

        // The endpoint answers again. A client that polls once a second gets in within the cold retry interval.
        repaired = await repairJwks(s, fault);
        const repairedAt = performance.now();
        let answer: HttpAnswer | undefined;
        for (let attempt = 0; attempt < COLD_RETRY_S + JWKS_FETCH_DEADLINE_S + 5 && answer?.status !== 200; attempt++) {
          if (attempt > 0) await sleep(1000);
          answer = await s.get(jobPath(SEED), headers);
          if (answer.status !== 200) expectUnavailable(answer, 'SigningKeysUnavailable');
        }
        expect(answer?.text).toBe(SEED_ANSWER);
        expect(fetches()).toBeLessThanOrEqual(fault === 'down' ? 1 : 2);
        const slowest = Math.max(...cold.map((a) => a.ms));
        figure(
          `JWKS ${fault}, cold: 32 concurrent requests, ${fault === 'down' ? 0 : 1} fetch, 503 after at most ${slowest.toFixed(0)} ms; 200 again ${((performance.now() - repairedAt) / 1000).toFixed(1)} s after the JWKS answered`,
        );
      } finally {
        await s.close();
        await repaired?.close();
      }
    },
  );

  it(
    'with keys cached: valid requests keep succeeding, and the failed download is logged once',
    { timeout: 60_000 },
    async () => {
      const s = await startStack();
      try {
        await s.seed();
        expect((await s.get(jobPath(SEED), s.headers())).text).toBe(SEED_ANSWER);
        const fetchesBefore = s.jwks.requests;
        await breakJwks(s, fault);

        // A token of a key the JWKS does not publish makes the store try a download, which fails.
        const unpublished = new TokenIssuer().addKey();
        const unknownKid = () => ({
          ...s.headers(),
          authorization: subjectAndAppHeader(s.tokens.subjectToken(), s.issuer.sign(s.tokens.appClaims(), unpublished)),
        });
        // A token pair of its own per request, so each one looks its keys up (none comes from the validated-token cache).
        const [first, ...valid] = await Promise.all([
          timed(() => s.get(jobPath(SEED), unknownKid())),
          ...Array.from({ length: 40 }, () => timed(() => s.get(jobPath(SEED), s.headers()))),
        ]);
        expect(first.value.status).toBe(401);
        for (const { value } of valid) expect(value.text).toBe(SEED_ANSWER);
        // More of both: no further download, no further log line.
        const again = await Promise.all([
          ...Array.from({ length: 10 }, () => s.get(jobPath(SEED), unknownKid())),
          ...Array.from({ length: 40 }, () => s.get(jobPath(SEED), s.headers())),
        ]);
        expect(again.slice(0, 10).every((a) => a.status === 401)).toBe(true);
        expect(again.slice(10).every((a) => a.text === SEED_ANSWER)).toBe(true);

        expect(jwksWarnings(s)).toHaveLength(1);
        if (fault !== 'down') expect(s.jwks.requests - fetchesBefore).toBe(1);
        figure(
          `JWKS ${fault}, keys cached: 80 valid requests all 200 (slowest ${Math.max(...valid.map((a) => a.ms)).toFixed(0)} ms while the failing download took ${first.ms.toFixed(0)} ms), 1 log line`,
        );
      } finally {
        await s.close();
      }
    },
  );
});
