import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeadLetterError,
  JsonLinesDeadLetterSink,
  MemoryDeadLetterSink,
  SqsDeadLetterSink,
} from '../../shared/publish/dead-letter.ts';
import { makeEvent, publishClock, START } from './fakes.ts';

// The SQS client is faked: no AWS account here; the sink's job is batching, retrying and message shape.
const sqs = mockClient(SQSClient);
const client = new SQSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
});
const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/nutcache-cdc-dlq';

beforeEach(() => {
  sqs.reset();
});

function items(count: number, options: { notesBytes?: number } = {}) {
  return Array.from({ length: count }, (_, i) => ({
    event: makeEvent(i + 1, options),
    reason: 'rejected by the bus',
    errorCode: 'MalformedDetail',
  }));
}

type BatchInput = { Entries?: { Id?: string; MessageBody?: string }[]; QueueUrl?: string };

function allSucceed(input: BatchInput) {
  return {
    Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
    Failed: [],
  };
}

describe('SqsDeadLetterSink', () => {
  it('sends at most 10 messages per SendMessageBatch, each body {event, reason, errorCode, deadLetteredAt}', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(allSucceed);
    const clock = publishClock();
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock });

    await sink.put(items(23));

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(queueUrl);
    const body = JSON.parse(calls[0]?.args[0].input.Entries?.[0]?.MessageBody ?? '{}');
    expect(body).toEqual({
      event: makeEvent(1),
      reason: 'rejected by the bus',
      errorCode: 'MalformedDetail',
      deadLetteredAt: new Date(START).toISOString(),
    });
  });

  it('retries only the failed entries of a batch, then succeeds', async () => {
    let call = 0;
    sqs.on(SendMessageBatchCommand).callsFake((input: BatchInput) => {
      call += 1;
      if (call > 1) return allSucceed(input);
      const entries = input.Entries ?? [];
      return {
        Successful: entries
          .filter((_e, i) => i !== 2)
          .map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
        Failed: [{ Id: entries[2]?.Id, SenderFault: false, Code: 'InternalError' }],
      };
    });
    const clock = publishClock();

    await new SqsDeadLetterSink({ client, queueUrl, clock, random: () => 0.5 }).put(items(4));

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls).toHaveLength(2);
    const resent = calls[1]?.args[0].input.Entries ?? [];
    expect(resent.map((e) => JSON.parse(e.MessageBody ?? '{}').event.detail.eventId)).toEqual(['evt-3']);
    expect(clock.sleeps).toEqual([50]);
  });

  it('fails with DeadLetterError naming the events when entries keep failing', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: BatchInput) => ({
      Successful: [],
      Failed: (input.Entries ?? []).map((e) => ({
        Id: e.Id,
        SenderFault: false,
        Code: 'ServiceUnavailable',
      })),
    }));
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock: publishClock(), maxAttempts: 3 });

    const error = await sink.put(items(2)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DeadLetterError);
    expect((error as DeadLetterError).failures).toEqual([
      { eventId: 'evt-1', code: 'ServiceUnavailable' },
      { eventId: 'evt-2', code: 'ServiceUnavailable' },
    ]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
  });

  it('fails at once on a sender fault (the message can never be accepted)', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: BatchInput) => ({
      Successful: [],
      Failed: (input.Entries ?? []).map((e) => ({
        Id: e.Id,
        SenderFault: true,
        Code: 'InvalidMessageContents',
      })),
    }));
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock: publishClock() });
    await expect(sink.put(items(1))).rejects.toThrow(/InvalidMessageContents/);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('retries a whole call that throws, then surfaces the error', async () => {
    sqs.on(SendMessageBatchCommand).rejects(new Error('socket hang up'));
    const clock = publishClock();
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock, maxAttempts: 2 });
    await expect(sink.put(items(1))).rejects.toThrow(DeadLetterError);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
    expect(clock.sleeps).toHaveLength(1);
  });

  it('stores a reduced body with the eventId and reason when a message exceeds 256 KB', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(allSucceed);
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock: publishClock() });

    await sink.put([...items(1, { notesBytes: 150_000 }), ...items(1)]);

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    const bodies = calls.flatMap((c) => (c.args[0].input.Entries ?? []).map((e) => e.MessageBody ?? ''));
    expect(bodies).toHaveLength(2);
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(256 * 1024);
    expect(JSON.parse(bodies[0] ?? '{}')).toMatchObject({
      eventId: 'evt-1',
      reason: 'rejected by the bus',
      errorCode: 'MalformedDetail',
      eventOmitted: true,
      source: 'nutcache.customers',
      detailType: 'Customer Updated',
    });
    expect(JSON.parse(bodies[1] ?? '{}').event.detail.eventId).toBe('evt-1');
  });

  it('splits batches so that one request stays within 256 KB', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(allSucceed);
    const sink = new SqsDeadLetterSink({ client, queueUrl, clock: publishClock() });

    await sink.put(items(4, { notesBytes: 40_000 })); // ~80 KB each

    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([3, 1]);
    for (const c of calls) {
      const total = (c.args[0].input.Entries ?? []).reduce(
        (s, e) => s + Buffer.byteLength(e.MessageBody ?? ''),
        0,
      );
      expect(total).toBeLessThanOrEqual(256 * 1024);
    }
  });
});

describe('JsonLinesDeadLetterSink', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('appends one record per line to a file, creating its directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dlq-'));
    dirs.push(dir);
    const path = join(dir, 'dead', 'letters.jsonl');
    const sink = new JsonLinesDeadLetterSink({ target: path, clock: publishClock() });

    await sink.put(items(2));
    await sink.put([{ event: makeEvent(9), reason: 'oversized' }]);

    const records = (await readFile(path, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records.map((r) => [r.event.detail.eventId, r.reason, r.errorCode])).toEqual([
      ['evt-1', 'rejected by the bus', 'MalformedDetail'],
      ['evt-2', 'rejected by the bus', 'MalformedDetail'],
      ['evt-9', 'oversized', undefined],
    ]);
    expect(records[0].deadLetteredAt).toBe(new Date(START).toISOString());
  });
});

describe('MemoryDeadLetterSink', () => {
  it('keeps records and can be made to fail without storing anything', async () => {
    const sink = new MemoryDeadLetterSink(publishClock());
    await sink.put(items(1));
    sink.failWith(new Error('down'));
    await expect(sink.put(items(2))).rejects.toThrow('down');
    expect(sink.eventIds()).toEqual(['evt-1']);
  });
});
