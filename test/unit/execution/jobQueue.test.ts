import type { QueueClient } from '@azure/storage-queue';
import { describe, expect, it, vi } from 'vitest';
import {
  encodeJobMessage,
  JobQueue,
  parseJobMessage,
  poisonQueueName,
  DEFAULT_ENQUEUE_DEADLINE_MS,
} from '../../../src/execution/jobQueue';
import { StorageUnavailableError } from '../../../src/fabric/errors';
import { transportError } from '../../fixtures/memoryTable';

const ITEM_ID = '2b6c7a8e-8d1f-4a57-9d6f-4c1f0e2d3b4a';
const JOB_ID = 'f3e2d1c0-b9a8-4765-8432-10fedcba9876';
const JOB = { itemId: ITEM_ID, jobInstanceId: JOB_ID };

describe('job messages', () => {
  it('are the base64 of the JSON that names the job, and nothing else', () => {
    const text = encodeJobMessage({ ...JOB, secret: 'x' } as typeof JOB);
    expect(JSON.parse(Buffer.from(text, 'base64').toString('utf8'))).toEqual(JOB);
  });

  it.each([
    ['the object the trigger gives for JSON', JOB],
    ['JSON text', JSON.stringify(JOB)],
    ['the decoded text of an encoded message', Buffer.from(encodeJobMessage(JOB), 'base64').toString('utf8')],
  ])('parse %s', (_name, value) => {
    expect(parseJobMessage(value)).toEqual(JOB);
  });

  it('lowercases the ids', () => {
    const upper = { itemId: ITEM_ID.toUpperCase(), jobInstanceId: JOB_ID.toUpperCase() };
    expect(parseJobMessage(upper)).toEqual(JOB);
  });

  it('keeps only the ids', () => {
    expect(parseJobMessage({ ...JOB, status: 'Completed' })).toEqual(JOB);
  });

  it.each([
    ['an item id that is not a GUID', { ...JOB, itemId: 'item-1' }],
    ['a job id that is not a GUID', { ...JOB, jobInstanceId: `${JOB_ID}0` }],
    ['a missing job id', { itemId: ITEM_ID }],
    ['ids that are not strings', { itemId: 1, jobInstanceId: 2 }],
    ['null', null],
    ['a number', 42],
    ['an array', [ITEM_ID, JOB_ID]],
    ['JSON text of a string', JSON.stringify(ITEM_ID)],
    ['text that is not JSON', `{"itemId":"${ITEM_ID}",`],
    ['base64 the trigger did not decode', encodeJobMessage(JOB)],
  ])('reject %s', (_name, value) => {
    expect(parseJobMessage(value)).toBeUndefined();
  });
});

/** A QueueClient that records what it was asked to send, failing when told to. */
function fakeQueueClient(fail?: unknown) {
  const sendMessage = vi.fn(async (_text: string, _options?: { abortSignal?: AbortSignal }) => {
    if (fail) throw fail;
    return {};
  });
  return { client: { name: 'jobs', sendMessage } as unknown as QueueClient, sendMessage };
}

describe('JobQueue.enqueue', () => {
  it('sends the encoded message with an abort signal', async () => {
    const { client, sendMessage } = fakeQueueClient();
    await new JobQueue(() => client).enqueue(JOB);
    expect(sendMessage).toHaveBeenCalledTimes(1);
    const [text, options] = sendMessage.mock.calls[0];
    expect(text).toBe(encodeJobMessage(JOB));
    expect(options?.abortSignal).toBeInstanceOf(AbortSignal);
    expect(options?.abortSignal?.aborted).toBe(false);
  });

  it('gives the send its deadline', async () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    try {
      const { client } = fakeQueueClient();
      await new JobQueue(() => client).enqueue(JOB);
      await new JobQueue(() => client, 1234).enqueue(JOB);
      expect(timeout.mock.calls).toEqual([[DEFAULT_ENQUEUE_DEADLINE_MS], [1234]]);
    } finally {
      timeout.mockRestore();
    }
  });

  it('connects on the first enqueue, once', async () => {
    const { client } = fakeQueueClient();
    const connect = vi.fn(() => client);
    const queue = new JobQueue(connect);
    expect(connect).not.toHaveBeenCalled();
    await queue.enqueue(JOB);
    await queue.enqueue(JOB);
    expect(connect).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['a transport error', transportError(), /ECONNREFUSED/],
    ['a timeout', Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), /timed out/],
    ['a service error', Object.assign(new Error('<xml/>'), { statusCode: 403, code: 'AuthorizationFailure' }), /403/],
  ])('maps %s to StorageUnavailableError naming the job', async (_name, error, detail) => {
    const { client } = fakeQueueClient(error);
    const attempt = new JobQueue(() => client).enqueue(JOB);
    await expect(attempt).rejects.toBeInstanceOf(StorageUnavailableError);
    const thrown = (await attempt.catch((e: unknown) => e)) as StorageUnavailableError;
    expect(thrown.logDetail).toContain(`enqueue of job ${ITEM_ID}/${JOB_ID} on jobs failed`);
    expect(thrown.logDetail).toMatch(detail);
  });
});

it('the poison queue is the queue name with -poison', () => {
  expect(poisonQueueName('jobs')).toBe('jobs-poison');
});
