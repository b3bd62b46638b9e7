import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { EventBridgeBus } from '../../shared/publish/eventbridge.ts';
import { publishEvents } from '../../shared/publish/reliable.ts';
import { toBusEntry } from '../../shared/publish/serialize.ts';
import { makeEvents, publishClock, RecordingLog } from './fakes.ts';

// The SDK client is faked: no AWS account here, and the adapter's job is the request/response mapping.
const eventBridge = mockClient(EventBridgeClient);
const client = new EventBridgeClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
});

beforeEach(() => {
  eventBridge.reset();
});

describe('EventBridgeBus', () => {
  it('sends one PutEvents request naming the bus, with the entries as given', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'a' }, { EventId: 'b' }] });
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });
    const entries = makeEvents(2).map(toBusEntry);

    const results = await bus.putEvents(entries);

    expect(results).toEqual([
      { ok: true, busEventId: 'a' },
      { ok: true, busEventId: 'b' },
    ]);
    const calls = eventBridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input?.Entries).toHaveLength(2);
    expect(input?.Entries?.[0]).toEqual({
      EventBusName: 'nutcache-cdc',
      Source: 'nutcache.customers',
      DetailType: 'Customer Updated',
      Detail: entries[0]?.detail,
      Time: new Date('2026-11-27T10:00:00.000Z'),
      Resources: [],
    });
  });

  it('maps a partial failure (FailedEntryCount > 0) to per-entry results in order', async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 2,
      Entries: [
        { EventId: 'e1' },
        { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' },
        { EventId: 'e3' },
        { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' },
      ],
    });
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });

    const results = await bus.putEvents(makeEvents(4).map(toBusEntry));

    expect(results).toEqual([
      { ok: true, busEventId: 'e1' },
      { ok: false, errorCode: 'ThrottlingException', errorMessage: 'Rate exceeded' },
      { ok: true, busEventId: 'e3' },
      { ok: false, errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' },
    ]);
  });

  it('answers MissingResult for entries the response did not cover', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }, {}] });
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });

    const results = await bus.putEvents(makeEvents(3).map(toBusEntry));

    expect(results[0]).toEqual({ ok: true, busEventId: 'e1' });
    expect(results[1]).toMatchObject({ ok: false, errorCode: 'MissingResult' });
    expect(results[2]).toMatchObject({ ok: false, errorCode: 'MissingResult' });
  });

  it('rejects when the whole call fails', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('socket hang up'));
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });
    await expect(bus.putEvents(makeEvents(1).map(toBusEntry))).rejects.toThrow('socket hang up');
  });

  it('refuses more than 10 entries without calling AWS', async () => {
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });
    await expect(bus.putEvents(makeEvents(11).map(toBusEntry))).rejects.toThrow(RangeError);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('behind publishEvents: at most 10 entries per request and failed entries re-sent alone', async () => {
    let call = 0;
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => {
      call += 1;
      return {
        FailedEntryCount: call === 1 ? 1 : 0,
        Entries: input.Entries.map((_e, i) =>
          call === 1 && i === 4 ? { ErrorCode: 'InternalFailure' } : { EventId: `c${call}-${i}` },
        ),
      };
    });
    const bus = new EventBridgeBus({ client, eventBusName: 'nutcache-cdc' });
    const clock = publishClock();

    const outcome = await publishEvents(
      makeEvents(13),
      { bus, clock, log: new RecordingLog(), deadLetters: new MemoryDeadLetterSink(clock) },
      { random: () => 0 },
    );

    const sizes = eventBridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 1, 3]);
    const resent = eventBridge.commandCalls(PutEventsCommand)[1]?.args[0].input.Entries?.[0]?.Detail;
    expect(resent && JSON.parse(resent).eventId).toBe('evt-5');
    expect(outcome.published).toHaveLength(13);
  });
});
