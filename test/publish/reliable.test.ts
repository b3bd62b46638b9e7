import { describe, expect, it } from 'vitest';
import { eventBridgeEventSchema } from '../../shared/events/contract.ts';
import type { BusEntry, BusEntryResult, EventBus } from '../../shared/ports.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { BusCallError, MemoryBus, SimulatedCrash } from '../../shared/publish/memory.ts';
import {
  backoffDelay,
  isRetryableCallError,
  isRetryableEntryCode,
  type PublishOptions,
  publishEvents,
} from '../../shared/publish/reliable.ts';
import { entrySize, toBusEntry } from '../../shared/publish/serialize.ts';
import {
  entryEventId,
  makeEvent,
  makeEvents,
  publishClock,
  RecordingLog,
  RecordingMetrics,
  START,
} from './fakes.ts';

function setup(bus: EventBus = new MemoryBus()) {
  const clock = publishClock();
  const log = new RecordingLog();
  const metrics = new RecordingMetrics();
  const deadLetters = new MemoryDeadLetterSink(clock);
  return { bus, clock, log, metrics, deadLetters };
}

function run(
  events: Parameters<typeof publishEvents>[0],
  deps: ReturnType<typeof setup>,
  options: PublishOptions = {},
) {
  return publishEvents(events, deps, { random: () => 0.5, ...options });
}

describe('publishEvents: packing', () => {
  it.each([
    [1, 1],
    [10, 1],
    [11, 2],
    [95, 10],
  ])('publishes %i small events in exactly %i PutEvents calls', async (n, calls) => {
    const bus = new MemoryBus();
    const deps = setup(bus);
    const events = makeEvents(n);

    const outcome = await run(events, deps);

    expect(outcome.putEventsCalls).toBe(calls);
    expect(bus.calls).toHaveLength(calls);
    expect(outcome.entriesSent).toBe(n);
    expect(outcome.published).toEqual(events.map((e) => e.detail.eventId));
    expect(bus.acceptedEventIds()).toEqual(outcome.published);
    expect(outcome.failed).toEqual([]);
    expect(outcome.deadLettered).toEqual([]);
    for (const call of bus.calls) expect(call.length).toBeLessThanOrEqual(10);
  });

  it('splits by request size: entries of ~100 KB go at most two per call', async () => {
    const bus = new MemoryBus();
    const deps = setup(bus);
    // before + after each carry 50 KB of notes: ~100 KB per entry.
    const events = makeEvents(5, { notesBytes: 50_000 });
    const sizes = events.map((e) => entrySize(toBusEntry(e)));
    expect(Math.min(...sizes)).toBeGreaterThan(100_000);

    const outcome = await run(events, deps);

    expect(bus.calls.map((c) => c.length)).toEqual([2, 2, 1]);
    for (const call of bus.calls) {
      expect(call.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThanOrEqual(256 * 1024);
    }
    expect(outcome.published).toHaveLength(5);
    expect(outcome.truncated).toEqual([]);
  });

  it('keeps input order across requests and honours a smaller maxEntriesPerRequest', async () => {
    const bus = new MemoryBus();
    const outcome = await run(makeEvents(7), setup(bus), { maxEntriesPerRequest: 3 });
    expect(bus.calls.map((c) => c.map(entryEventId))).toEqual([
      ['evt-1', 'evt-2', 'evt-3'],
      ['evt-4', 'evt-5', 'evt-6'],
      ['evt-7'],
    ]);
    expect(outcome.published).toEqual(['evt-1', 'evt-2', 'evt-3', 'evt-4', 'evt-5', 'evt-6', 'evt-7']);
  });

  it('makes no call for an empty list', async () => {
    const bus = new MemoryBus();
    const outcome = await run([], setup(bus));
    expect(outcome).toMatchObject({ published: [], failed: [], deadLettered: [], putEventsCalls: 0 });
    expect(bus.calls).toHaveLength(0);
  });

  it('rejects options PutEvents cannot honour', async () => {
    await expect(run(makeEvents(1), setup(), { maxEntriesPerRequest: 11 })).rejects.toThrow(RangeError);
    await expect(run(makeEvents(1), setup(), { maxAttempts: 0 })).rejects.toThrow(/maxAttempts/);
  });
});

describe('publishEvents: partial failures', () => {
  it('re-sends only the entries that failed with ThrottlingException, then publishes them', async () => {
    const bus = new MemoryBus().failEntries((_entry, callIndex, entryIndex) =>
      callIndex === 0 && (entryIndex === 1 || entryIndex === 6) ? 'ThrottlingException' : undefined,
    );
    const deps = setup(bus);
    const events = makeEvents(10);

    const outcome = await run(events, deps);

    expect(bus.calls).toHaveLength(2);
    const second = bus.calls[1] ?? [];
    expect(second).toEqual([toBusEntry(events[1] ?? makeEvent(0)), toBusEntry(events[6] ?? makeEvent(0))]);
    expect(second.map(entryEventId)).toEqual(['evt-2', 'evt-7']);
    expect(outcome.published).toEqual(events.map((e) => e.detail.eventId));
    expect(outcome.entriesSent).toBe(12);
    expect(bus.accepted).toHaveLength(10);
    expect(deps.clock.sleeps).toHaveLength(1);
  });

  it('retries InternalFailure until it clears', async () => {
    const bus = new MemoryBus().failEntries((entry, callIndex) =>
      entryEventId(entry) === 'evt-3' && callIndex < 3 ? 'InternalFailure' : undefined,
    );
    const outcome = await run(makeEvents(4), setup(bus));
    expect(outcome.published).toEqual(['evt-1', 'evt-2', 'evt-3', 'evt-4']);
    expect(bus.calls.map((c) => c.map(entryEventId))).toEqual([
      ['evt-1', 'evt-2', 'evt-3', 'evt-4'],
      ['evt-3'],
      ['evt-3'],
      ['evt-3'],
    ]);
  });

  it.each(['MalformedDetail', 'AccessDenied', 'InvalidArgument', 'ValidationException'])(
    'dead-letters an entry rejected with %s without retrying it',
    async (code) => {
      const bus = new MemoryBus().failEntries((entry) =>
        entryEventId(entry) === 'evt-2' ? code : undefined,
      );
      const deps = setup(bus);

      const outcome = await run(makeEvents(3), deps);

      expect(bus.calls).toHaveLength(1);
      expect(outcome.published).toEqual(['evt-1', 'evt-3']);
      expect(outcome.deadLettered).toEqual([
        { eventId: 'evt-2', errorCode: code, reason: `rejected by the bus: injected ${code}` },
      ]);
      expect(outcome.failed).toEqual([]);
      expect(deps.deadLetters.records).toHaveLength(1);
      expect(deps.deadLetters.records[0]).toMatchObject({
        event: makeEvent(2),
        errorCode: code,
        deadLetteredAt: new Date(START).toISOString(),
      });
      expect(deps.metrics.get('EventsDeadLettered')).toBe(1);
    },
  );

  it('reports retryable failures that outlast the attempts as failed, neither published nor dead-lettered', async () => {
    const bus = new MemoryBus().failEntries((entry) =>
      entryEventId(entry) === 'evt-1' ? 'ThrottlingException' : undefined,
    );
    const deps = setup(bus);

    const outcome = await run(makeEvents(2), deps, { maxAttempts: 4 });

    expect(bus.calls).toHaveLength(4);
    expect(outcome.published).toEqual(['evt-2']);
    expect(outcome.deadLettered).toEqual([]);
    expect(outcome.failed).toEqual([
      { eventId: 'evt-1', errorCode: 'ThrottlingException', reason: 'retries exhausted' },
    ]);
    expect(deps.deadLetters.records).toEqual([]);
    expect(bus.acceptedEventIds()).toEqual(['evt-2']);
    expect(deps.metrics.get('EventsFailed')).toBe(1);
  });

  it('treats an unknown per-entry code as retryable', async () => {
    const bus = new MemoryBus().failEntries((_e, callIndex) =>
      callIndex === 0 ? 'SomethingNew' : undefined,
    );
    const outcome = await run(makeEvents(2), setup(bus));
    expect(outcome.published).toEqual(['evt-1', 'evt-2']);
    expect(outcome.deadLettered).toEqual([]);
    expect(bus.calls).toHaveLength(2);
  });

  it('re-sends entries a bus left unanswered (MissingResult)', async () => {
    const calls: number[] = [];
    const shortBus: EventBus = {
      async putEvents(entries: readonly BusEntry[]): Promise<BusEntryResult[]> {
        calls.push(entries.length);
        // First call answers only the first entry; later calls answer all.
        return calls.length === 1 ? [{ ok: true }] : entries.map(() => ({ ok: true }));
      },
    };
    const deps = setup(shortBus);
    const outcome = await run(makeEvents(3), deps);
    expect(calls).toEqual([3, 2]);
    expect(outcome.published).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect(deps.log.at('warn')).toContain(
      'PutEvents answered a different number of results than entries sent',
    );
  });
});

describe('publishEvents: whole-call failures and time', () => {
  it('retries a rejected call with the whole batch, backing off with jitter', async () => {
    const bus = new MemoryBus().rejectCalls((callIndex) =>
      callIndex < 2 ? new BusCallError('InternalException', { fault: 'server' }) : undefined,
    );
    const deps = setup(bus);
    const events = makeEvents(5);

    const outcome = await run(events, deps, { baseDelayMs: 100, random: () => 0.5 });

    expect(bus.calls).toHaveLength(3);
    expect(bus.calls[2]?.map(entryEventId)).toEqual(bus.calls[0]?.map(entryEventId));
    expect(outcome.published).toEqual(events.map((e) => e.detail.eventId));
    expect(deps.clock.sleeps).toEqual([50, 100]); // 0.5 × 100, 0.5 × 200
    expect(outcome.putEventsCalls).toBe(3);
  });

  it('retries network errors (no $fault) and throttling rejections', async () => {
    const network = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    const bus = new MemoryBus().rejectCalls((callIndex) => {
      if (callIndex === 0) return network;
      if (callIndex === 1) return new BusCallError('ThrottlingException', { fault: 'client' });
      return undefined;
    });
    const outcome = await run(makeEvents(1), setup(bus));
    expect(outcome.published).toEqual(['evt-1']);
    expect(bus.calls).toHaveLength(3);
  });

  it('does not retry a non-retryable call rejection and does not call again for the next batches', async () => {
    const bus = new MemoryBus().rejectCalls(
      () => new BusCallError('ResourceNotFoundException', { fault: 'client', message: 'bus not found' }),
    );
    const deps = setup(bus);

    const outcome = await run(makeEvents(15), deps);

    expect(bus.calls).toHaveLength(1);
    expect(outcome.published).toEqual([]);
    expect(outcome.failed).toHaveLength(15);
    expect(new Set(outcome.failed.map((f) => f.errorCode))).toEqual(new Set(['ResourceNotFoundException']));
    expect(deps.deadLetters.records).toEqual([]);
  });

  it('gives up on a bus that keeps rejecting calls after maxAttempts, failing every event', async () => {
    const bus = new MemoryBus().rejectCalls(() => new BusCallError('ServiceUnavailable'));
    const outcome = await run(makeEvents(25), setup(bus), { maxAttempts: 3 });
    expect(bus.calls).toHaveLength(3);
    expect(outcome.failed.map((f) => f.eventId)).toEqual(makeEvents(25).map((e) => e.detail.eventId));
  });

  it('stops retrying at the deadline and reports the rest as failed', async () => {
    const bus = new MemoryBus().failEntries(() => 'ThrottlingException');
    const deps = setup(bus);

    const outcome = await run(makeEvents(12), deps, {
      baseDelayMs: 1_000,
      maxAttempts: 50,
      random: () => 0.999,
      deadline: START + 2_500,
    });

    // Each batch: call at t, sleep 999, call again; the next sleep (1,998) would end past the deadline.
    expect(bus.calls.map((c) => c.length)).toEqual([10, 10, 2, 2]);
    expect(deps.clock.sleeps).toEqual([999, 999]);
    expect(deps.clock.now()).toBeLessThan(START + 2_500);
    expect(outcome.published).toEqual([]);
    expect(outcome.failed).toHaveLength(12);
    expect(new Set(outcome.failed.map((f) => `${f.errorCode}/${f.reason}`))).toEqual(
      new Set(['ThrottlingException/deadline reached']),
    );
  });

  it('sends nothing when the deadline has already passed', async () => {
    const bus = new MemoryBus();
    const outcome = await run(makeEvents(3), setup(bus), { deadline: START - 1 });
    expect(bus.calls).toHaveLength(0);
    expect(outcome.failed.map((f) => f.errorCode)).toEqual([
      'DeadlineExceeded',
      'DeadlineExceeded',
      'DeadlineExceeded',
    ]);
  });

  it('lets a simulated crash escape instead of retrying it', async () => {
    const bus = new MemoryBus().crashAfterCalls(1);
    const deps = setup(bus);
    await expect(run(makeEvents(25), deps)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(bus.calls).toHaveLength(2);
    expect(bus.accepted).toHaveLength(10);
  });
});

describe('publishEvents: oversized events', () => {
  it('publishes an oversized event without before/after, with the same eventId, and says so', async () => {
    const bus = new MemoryBus();
    const deps = setup(bus);
    const big = makeEvent(1, { notesBytes: 200_000 });
    const events = [big, makeEvent(2)];

    const outcome = await run(events, deps);

    expect(outcome.published).toEqual(['evt-1', 'evt-2']);
    expect(outcome.truncated).toEqual(['evt-1']);
    const sent = bus.accepted[0];
    expect(eventBridgeEventSchema.parse(sent)).toBeDefined();
    expect(sent?.detail).toMatchObject({
      eventId: 'evt-1',
      before: null,
      after: null,
      truncated: true,
      changedFields: ['name'],
      changes: { name: { before: 'Customer 1', after: 'Customer 1 renamed' } },
    });
    expect(deps.metrics.get('EventsTruncated')).toBe(1);
    expect(deps.log.at('warn')).toContain(
      'event exceeds the bus entry limit; publishing it without before/after',
    );
  });

  it('drops the per-field changes too when they alone are too large', async () => {
    const bus = new MemoryBus();
    const outcome = await run([makeEvent(1, { changesBytes: 300_000 })], setup(bus));
    expect(outcome.published).toEqual(['evt-1']);
    const detail = bus.accepted[0]?.detail;
    expect(detail).toMatchObject({
      eventId: 'evt-1',
      truncated: true,
      changedFields: ['name'],
      before: null,
    });
    expect(detail).not.toHaveProperty('changes');
  });

  it('dead-letters an event that does not fit even reduced, and publishes the others', async () => {
    const bus = new MemoryBus();
    const deps = setup(bus);
    const hopeless = makeEvent(1);
    const huge = { ...hopeless, detail: { ...hopeless.detail, changedFields: ['f'.repeat(300_000)] } };

    const outcome = await run([huge, makeEvent(2)], deps);

    expect(outcome.published).toEqual(['evt-2']);
    expect(outcome.deadLettered).toEqual([
      { eventId: 'evt-1', reason: 'oversized', errorCode: 'EntryTooLarge' },
    ]);
    expect(deps.deadLetters.records[0]?.event).toBe(huge);
    expect(deps.metrics.get('EventsDeadLettered')).toBe(1);
  });

  it('honours a configurable entry limit', async () => {
    const bus = new MemoryBus();
    const outcome = await run([makeEvent(1, { notesBytes: 3_000 })], setup(bus), { maxEntryBytes: 4_000 });
    expect(outcome.truncated).toEqual(['evt-1']);
    expect(entrySize(bus.calls[0]?.[0] ?? toBusEntry(makeEvent(0)))).toBeLessThanOrEqual(4_000);
  });
});

describe('publishEvents: dead-letter sink failure', () => {
  it('reports the events as failed and surfaces the sink error', async () => {
    const bus = new MemoryBus().failEntries((entry) =>
      entryEventId(entry) === 'evt-2' ? 'MalformedDetail' : undefined,
    );
    const deps = setup(bus);
    deps.deadLetters.failWith(new Error('queue unavailable'));

    const outcome = await run(makeEvents(3), deps);

    expect(outcome.published).toEqual(['evt-1', 'evt-3']);
    expect(outcome.deadLettered).toEqual([]);
    expect(outcome.failed).toEqual([
      {
        eventId: 'evt-2',
        errorCode: 'DeadLetterFailed',
        reason: 'rejected by the bus: injected MalformedDetail; dead-letter sink failed: queue unavailable',
      },
    ]);
    expect(outcome.deadLetterError?.message).toBe('queue unavailable');
    expect(deps.log.at('error')).toContain(
      'dead-letter sink failed; the events stay unpublished and will be redone',
    );
  });
});

describe('retry classification', () => {
  it('follows AWS: InternalFailure and ThrottlingException retryable, documented codes not', () => {
    expect(isRetryableEntryCode('InternalFailure')).toBe(true);
    expect(isRetryableEntryCode('ThrottlingException')).toBe(true);
    for (const code of [
      'MalformedDetail',
      'InvalidArgument',
      'AccessDeniedException',
      'NotAuthorizedForSourceException',
      'SomeValidationException',
    ]) {
      expect(isRetryableEntryCode(code)).toBe(false);
    }
  });

  it('retries server faults, throttling and network errors but not other client faults', () => {
    expect(isRetryableCallError(new BusCallError('InternalException'))).toBe(true);
    expect(isRetryableCallError(new BusCallError('ThrottlingException', { fault: 'client' }))).toBe(true);
    expect(isRetryableCallError(new Error('ECONNRESET'))).toBe(true);
    expect(isRetryableCallError(new BusCallError('AccessDeniedException', { fault: 'client' }))).toBe(false);
  });

  it('caps the jittered delay at maxDelayMs', () => {
    expect(backoffDelay(1, 100, 5_000, () => 0.999)).toBe(99);
    expect(backoffDelay(20, 100, 5_000, () => 0.999)).toBe(4_995);
    expect(backoffDelay(3, 100, 5_000, () => 0)).toBe(0);
  });
});
