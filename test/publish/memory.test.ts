import { describe, expect, it } from 'vitest';
import { eventBridgeEventSchema } from '../../shared/events/contract.ts';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { MemoryBus, SimulatedCrash } from '../../shared/publish/memory.ts';
import { isFatalError, publishEvents } from '../../shared/publish/reliable.ts';
import { toBusEntry } from '../../shared/publish/serialize.ts';
import { makeEvent, makeEvents, publishClock, RecordingLog } from './fakes.ts';

describe('MemoryBus', () => {
  it('records accepted events shaped like EventBridge events', async () => {
    const bus = new MemoryBus({ account: '111122223333', region: 'eu-west-3' });
    await bus.putEvents([toBusEntry(makeEvent(1))]);
    const event = eventBridgeEventSchema.parse(bus.accepted[0]);
    expect(event).toMatchObject({
      version: '0',
      account: '111122223333',
      region: 'eu-west-3',
      time: '2026-11-27T10:00:00Z',
      'detail-type': 'Customer Updated',
    });
    expect(bus.acceptedEventIds()).toEqual(['evt-1']);
  });

  it('enforces the PutEvents limits like EventBridge: 10 entries and the request size', async () => {
    const bus = new MemoryBus({ maxRequestBytes: 2_000 });
    await expect(bus.putEvents(makeEvents(11).map(toBusEntry))).rejects.toMatchObject({
      name: 'ValidationException',
      $fault: 'client',
    });
    await expect(bus.putEvents([toBusEntry(makeEvent(1, { notesBytes: 2_000 }))])).rejects.toThrow(
      /over the limit/,
    );
    expect(bus.accepted).toEqual([]);
  });

  it('crashes on the call after the next n, once, with a fatal SimulatedCrash', async () => {
    const bus = new MemoryBus().crashAfterCalls(2);
    const entry = toBusEntry(makeEvent(1));
    await bus.putEvents([entry]);
    await bus.putEvents([entry]);
    const crash = await bus.putEvents([entry]).catch((e: unknown) => e);
    expect(crash).toBeInstanceOf(SimulatedCrash);
    expect(isFatalError(crash)).toBe(true);
    expect(bus.accepted).toHaveLength(2);
    await expect(bus.putEvents([entry])).resolves.toEqual([{ ok: true, busEventId: expect.any(String) }]);
  });

  it('can accept the crashing call first, as when the process dies before hearing the answer', async () => {
    const bus = new MemoryBus().crashAfterCalls(0, { acceptBeforeCrash: true });
    await expect(bus.putEvents([toBusEntry(makeEvent(1))])).rejects.toMatchObject({ accepted: true });
    expect(bus.acceptedEventIds()).toEqual(['evt-1']);
  });

  it('replays the same random faults for the same seed', async () => {
    const runWith = async (seed: number) => {
      const bus = new MemoryBus().randomFaults({
        seed,
        entryFailureProbability: 0.3,
        callRejectionProbability: 0.2,
      });
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        const results = await bus.putEvents(makeEvents(5).map(toBusEntry)).catch((e: Error) => [e.name]);
        outcomes.push(JSON.stringify(results.map((r) => (typeof r === 'string' ? r : r.ok || r.errorCode))));
      }
      return outcomes;
    };
    const first = await runWith(42);
    expect(await runWith(42)).toEqual(first);
    expect(await runWith(43)).not.toEqual(first);
    expect(first.join()).toMatch(/ThrottlingException|InternalFailure/);
  });

  it('a publish killed mid-way and redone publishes every event at least once under the same ids', async () => {
    const bus = new MemoryBus().crashAfterCalls(2, { acceptBeforeCrash: true });
    const clock = publishClock();
    const deps = { bus, clock, log: new RecordingLog(), deadLetters: new MemoryDeadLetterSink(clock) };
    const events = makeEvents(45);

    await expect(publishEvents(events, deps)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(bus.accepted).toHaveLength(30);
    const redo = await publishEvents(events, deps);

    expect(redo.published).toHaveLength(45);
    const ids = bus.acceptedEventIds();
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.detail.eventId)));
    expect(ids).toHaveLength(75); // 30 duplicates, recognisable by their eventId
  });
});
