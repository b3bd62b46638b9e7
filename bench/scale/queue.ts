/**
 * The queue model: the poll queue is an SQS FIFO queue whose message group is the API-key group, read by a
 * Lambda event source with batch size 1. Within a group SQS hands out the next message only once the one
 * in flight is deleted, so a group's polls run one at a time, in the order Scheduler sent them; groups are
 * independent (Lambda scales to the number of active message groups, at most one poll per key, far below
 * the account's concurrency). Deduplication by the scheduled time makes a Scheduler retry a no-op, so
 * each fire is one message.
 */
import type { Meter } from './meter.ts';
import type { Fire } from './schedule.ts';
import type { VirtualClock } from './virtual-clock.ts';

/** The group's messages in send order, one per (organization, scheduled time). */
export function groupMessages(fires: readonly Fire[]): Fire[] {
  const seen = new Set<string>();
  const messages: Fire[] = [];
  const ordered = [...fires].sort(
    (a, b) =>
      a.firedAt - b.firedAt ||
      a.dueAt - b.dueAt ||
      a.org.organizationGuid.localeCompare(b.org.organizationGuid),
  );
  for (const fire of ordered) {
    const dedupId = `${fire.org.organizationGuid}/${fire.dueAt}`;
    if (seen.has(dedupId)) continue;
    seen.add(dedupId);
    messages.push(fire);
  }
  return messages;
}

/**
 * Runs the group's consumer: each message is received `pickupMs` after it was sent, or after the previous
 * poll of the group ended if that is later, and handled to completion before the next.
 */
export async function consumeGroup(
  messages: readonly Fire[],
  clock: VirtualClock,
  options: { readonly pickupMs: number; readonly meter: Meter },
  handle: (message: Fire) => Promise<void>,
): Promise<void> {
  const { meter } = options;
  for (const message of messages) {
    meter.schedulerInvocations += 1;
    meter.sqsSend += 1;
    // Idle group: picked up after the send; busy group: after the previous poll deleted its message.
    clock.advanceTo(Math.max(message.firedAt, clock.now()) + options.pickupMs);
    meter.sqsReceive += 1;
    await handle(message);
    meter.sqsDelete += 1;
  }
}
