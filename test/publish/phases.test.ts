import { describe, expect, it } from 'vitest';
import { MemoryDeadLetterSink } from '../../shared/publish/dead-letter.ts';
import { PublishLedger } from '../../shared/publish/ledger.ts';
import { BusCallError, MemoryBus } from '../../shared/publish/memory.ts';
import { deadLetterRest } from '../../shared/publish/phases/dead-letter-rest.ts';
import { prepareItems } from '../../shared/publish/phases/prepare.ts';
import { sendBatch } from '../../shared/publish/phases/send-batch.ts';
import { resolveOptions } from '../../shared/publish/publish-options.ts';
import { entryEventId, makeEvent, makeEvents, publishClock, RecordingLog, START } from './fakes.ts';

const LIMIT = 256 * 1024;

function prepared(count: number, ledger = new PublishLedger()) {
  return prepareItems(makeEvents(count), LIMIT, ledger, { log: new RecordingLog() });
}

function sending(bus: MemoryBus, options = {}) {
  const ledger = new PublishLedger();
  const clock = publishClock();
  const context = {
    bus,
    clock,
    log: new RecordingLog(),
    opts: resolveOptions({ random: () => 0.5, ...options }),
    ledger,
  };
  return { ledger, clock, context };
}

describe('preparing events for the bus', () => {
  it('keeps the input order and sets aside what can never be sent', () => {
    const ledger = new PublishLedger();
    const broken = { ...makeEvent(2), time: 'not a date' };
    const items = prepareItems([makeEvent(1), broken, makeEvent(3)], LIMIT, ledger, {
      log: new RecordingLog(),
    });
    expect(items.map((i) => [i.index, i.eventId])).toEqual([
      [0, 'evt-1'],
      [2, 'evt-3'],
    ]);
    expect(ledger.toDeadLetter).toMatchObject([
      { index: 1, reason: 'invalid', errorCode: 'InvalidArgument' },
    ]);
  });
});

describe('sending one batch', () => {
  it('re-sends only the entries that failed with a retryable code', async () => {
    const bus = new MemoryBus().failEntries((entry, callIndex) =>
      callIndex === 0 && entryEventId(entry) === 'evt-2' ? 'ThrottlingException' : undefined,
    );
    const { ledger, context } = sending(bus);
    expect(await sendBatch(prepared(3), context)).toBe('done');
    expect(bus.calls.map((call) => call.map(entryEventId))).toEqual([['evt-1', 'evt-2', 'evt-3'], ['evt-2']]);
    expect(ledger.outcome().published).toEqual(['evt-1', 'evt-2', 'evt-3']);
    expect(ledger.retries).toBe(1);
  });

  it('gives the bus up for a call rejected as a client fault, failing the batch without retrying', async () => {
    const bus = new MemoryBus().rejectCalls(
      () => new BusCallError('ResourceNotFoundException', { fault: 'client' }),
    );
    const { ledger, context } = sending(bus);
    expect(await sendBatch(prepared(2), context)).toBe('bus-unavailable');
    expect(bus.calls).toHaveLength(1);
    expect(ledger.outcome().failed.map((f) => f.errorCode)).toEqual([
      'ResourceNotFoundException',
      'ResourceNotFoundException',
    ]);
  });

  it('sends nothing once the deadline has passed', async () => {
    const { ledger, context } = sending(new MemoryBus(), { deadline: START });
    expect(await sendBatch(prepared(1), context)).toBe('done');
    expect(ledger.outcome().failed).toEqual([
      { eventId: 'evt-1', errorCode: 'DeadlineExceeded', reason: 'deadline reached' },
    ]);
  });
});

describe('dead-lettering the rest', () => {
  it('reports the events the sink took as dead-lettered, in input order', async () => {
    const ledger = new PublishLedger();
    ledger.toDeadLetter.push(
      { index: 2, event: makeEvent(3), reason: 'oversized', errorCode: 'EntryTooLarge' },
      { index: 0, event: makeEvent(1), reason: 'invalid', errorCode: 'InvalidArgument' },
    );
    const sink = new MemoryDeadLetterSink();
    await deadLetterRest(ledger, sink, new RecordingLog());
    expect(sink.eventIds()).toEqual(['evt-1', 'evt-3']);
    expect(ledger.outcome().deadLettered.map((d) => d.eventId)).toEqual(['evt-1', 'evt-3']);
  });

  it('keeps them unpublished (failed) when the sink fails', async () => {
    const ledger = new PublishLedger();
    ledger.toDeadLetter.push({
      index: 0,
      event: makeEvent(1),
      reason: 'invalid',
      errorCode: 'InvalidArgument',
    });
    await deadLetterRest(
      ledger,
      new MemoryDeadLetterSink().failWith(new Error('queue down')),
      new RecordingLog(),
    );
    const outcome = ledger.outcome();
    expect(outcome.deadLettered).toEqual([]);
    expect(outcome.failed).toMatchObject([{ eventId: 'evt-1', errorCode: 'DeadLetterFailed' }]);
    expect(outcome.deadLetterError?.message).toBe('queue down');
  });
});
