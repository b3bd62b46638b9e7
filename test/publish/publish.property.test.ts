import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { BusCallError, MemoryBus } from '../../shared/publish/memory.ts';
import { isRetryableEntryCode, publishEvents } from '../../shared/publish/reliable.ts';
import { entryEventId, makeEvents, publishClock, RecordingLog } from './fakes.ts';

const CODES = ['ThrottlingException', 'InternalFailure', 'MalformedDetail', 'AccessDenied'] as const;

/** Per event: the code answered to its 1st, 2nd, … send; once the script runs out the entry is accepted. */
const scenario = fc.record({
  scripts: fc.array(fc.array(fc.constantFrom(...CODES), { maxLength: 4 }), { minLength: 1, maxLength: 25 }),
  rejectedCalls: fc.uniqueArray(fc.nat(12), { maxLength: 3 }),
});

function faultyBus(scripts: readonly (readonly string[])[], rejectedCalls: readonly number[]): MemoryBus {
  const sends = new Map<string, number>();
  return new MemoryBus()
    .rejectCalls((callIndex) =>
      rejectedCalls.includes(callIndex) ? new BusCallError('InternalException') : undefined,
    )
    .failEntries((entry) => {
      const id = entryEventId(entry);
      const k = sends.get(id) ?? 0;
      sends.set(id, k + 1);
      return scripts[Number(id.slice('evt-'.length)) - 1]?.[k];
    });
}

/** Where an event must end when attempts are plentiful: the first non-retryable code wins, else published. */
function expectedFate(script: readonly string[]): 'published' | 'deadLettered' {
  return script.some((code) => !isRetryableEntryCode(code)) ? 'deadLettered' : 'published';
}

describe('publishEvents under arbitrary per-entry faults', () => {
  it('with enough attempts, every event ends exactly once: published (accepted by the bus) or dead-lettered', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ scripts, rejectedCalls }) => {
        const bus = faultyBus(scripts, rejectedCalls);
        const clock = publishClock();
        const deadLetters = new MemoryDeadLetterSink(clock);
        const events = makeEvents(scripts.length);

        const outcome = await publishEvents(
          events,
          { bus, clock, deadLetters, log: new RecordingLog() },
          { maxAttempts: 10 },
        );

        const ids = events.map((e) => e.detail.eventId);
        const buckets = [...outcome.published, ...outcome.deadLettered.map((d) => d.eventId)];
        expect(outcome.failed).toEqual([]);
        expect([...buckets].sort()).toEqual([...ids].sort());
        const accepted = new Set(bus.acceptedEventIds());
        for (const id of outcome.published) expect(accepted.has(id)).toBe(true);
        expect(deadLetters.eventIds()).toEqual(outcome.deadLettered.map((d) => d.eventId));
        scripts.forEach((script, i) => {
          const id = ids[i] ?? '';
          const fate = outcome.published.includes(id) ? 'published' : 'deadLettered';
          expect(fate).toBe(expectedFate(script));
        });
      }),
      { numRuns: 200 },
    );
  });

  it('with few attempts, every event still ends in exactly one bucket and only published ones reached the bus', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        fc.integer({ min: 1, max: 4 }),
        async ({ scripts, rejectedCalls }, maxAttempts) => {
          const bus = faultyBus(scripts, rejectedCalls);
          const clock = publishClock();
          const events = makeEvents(scripts.length);

          const outcome = await publishEvents(
            events,
            { bus, clock, deadLetters: new MemoryDeadLetterSink(clock), log: new RecordingLog() },
            { maxAttempts },
          );

          const all = [
            ...outcome.published,
            ...outcome.deadLettered.map((d) => d.eventId),
            ...outcome.failed.map((f) => f.eventId),
          ];
          expect(all).toHaveLength(events.length);
          expect(new Set(all).size).toBe(events.length);
          expect(new Set(bus.acceptedEventIds())).toEqual(new Set(outcome.published));
          for (const call of bus.calls) expect(call.length).toBeLessThanOrEqual(10);
        },
      ),
      { numRuns: 200 },
    );
  });
});
