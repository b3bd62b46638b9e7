/**
 * Publishing phase 3: hand the events that can never be published to the dead-letter sink. A sink failure
 * is not swallowed: those events stay unpublished (`failed`), so the caller does not commit them.
 */
import type { DeadLetterSink, Log } from '../../ports.ts';
import type { PublishLedger } from '../ledger.ts';
import { isFatalError } from '../retry-rules.ts';
import { eventIdOf } from '../serialize.ts';

/** Log lines name at most this many events (a failed initial load can hold thousands). */
const LOG_SAMPLE = 20;
export function sample<T>(values: readonly T[]): T[] {
  return values.slice(0, LOG_SAMPLE);
}

export async function deadLetterRest(ledger: PublishLedger, sink: DeadLetterSink, log: Log): Promise<void> {
  const toDeadLetter = ledger.toDeadLetter;
  if (toDeadLetter.length === 0) return;
  toDeadLetter.sort((a, b) => a.index - b.index);
  try {
    await sink.put(toDeadLetter.map(({ event, reason, errorCode }) => ({ event, reason, errorCode })));
  } catch (error) {
    if (isFatalError(error)) throw error;
    sinkFailed(ledger, error, log);
    return;
  }
  for (const d of toDeadLetter) {
    ledger.deadLettered.push({
      index: d.index,
      item: { eventId: eventIdOf(d.event), reason: d.reason, errorCode: d.errorCode },
    });
  }
  log.warn('events dead-lettered', {
    count: toDeadLetter.length,
    sample: sample(toDeadLetter.map((d) => ({ eventId: eventIdOf(d.event), errorCode: d.errorCode }))),
  });
}

function sinkFailed(ledger: PublishLedger, error: unknown, log: Log): void {
  const toDeadLetter = ledger.toDeadLetter;
  const deadLetterError = error instanceof Error ? error : new Error(String(error));
  ledger.deadLetterError = deadLetterError;
  log.error('dead-letter sink failed; the events stay unpublished and will be redone', {
    error: deadLetterError.message,
    count: toDeadLetter.length,
    sample: sample(toDeadLetter.map((d) => eventIdOf(d.event))),
  });
  for (const d of toDeadLetter) {
    ledger.fail(
      { index: d.index, eventId: eventIdOf(d.event) },
      'DeadLetterFailed',
      `${d.reason}; dead-letter sink failed: ${deadLetterError.message}`,
    );
  }
}
