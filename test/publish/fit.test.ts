import { describe, expect, it } from 'vitest';
import { fitEvent } from '../../shared/publish/fit.ts';
import { InvalidBusEventError } from '../../shared/publish/serialize.ts';
import { makeEvent, RecordingLog, RecordingMetrics } from './fakes.ts';

const LIMIT = 256 * 1024;

function report() {
  return { log: new RecordingLog(), metrics: new RecordingMetrics() };
}

describe('fitting an event to the bus entry limit', () => {
  it('passes an event that fits unchanged, without counting a truncation', () => {
    const r = report();
    const event = makeEvent(1);
    const fit = fitEvent(event, LIMIT, r);
    expect(fit.kind).toBe('whole');
    expect(fit.kind !== 'too-large' && fit.event).toBe(event);
    expect(r.metrics.get('EventsTruncated')).toBe(0);
  });

  it('reduces an oversized change event, keeps its eventId, counts and logs the truncation once', () => {
    const r = report();
    const fit = fitEvent(makeEvent(1, { notesBytes: 200_000 }), LIMIT, { ...r, context: { pollNumber: 7 } });
    expect(fit.kind).toBe('reduced');
    if (fit.kind !== 'reduced') return;
    expect(fit.size).toBeLessThanOrEqual(LIMIT);
    expect(fit.event.detail).toMatchObject({ eventId: 'evt-1', before: null, after: null, truncated: true });
    expect(r.metrics.get('EventsTruncated')).toBe(1);
    expect(r.log.at('warn')).toContain(
      'event exceeds the bus entry limit; publishing it without before/after',
    );
  });

  it('reports an event that does not fit even reduced, without counting a truncation', () => {
    const r = report();
    const event = makeEvent(1);
    const huge = { ...event, detail: { ...event.detail, changedFields: ['f'.repeat(300_000)] } };
    const fit = fitEvent(huge, LIMIT, r);
    expect(fit.kind).toBe('too-large');
    expect(r.metrics.get('EventsTruncated')).toBe(0);
  });

  it('refuses an event that can never be serialised', () => {
    const event = { ...makeEvent(1), time: 'not a date' };
    expect(() => fitEvent(event, LIMIT, report())).toThrow(InvalidBusEventError);
  });
});
