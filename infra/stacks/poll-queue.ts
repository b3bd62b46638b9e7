/**
 * The POLL QUEUE: every organization's schedule (EventBridge Scheduler, created at run time through the
 * Scheduler API, docs/organizations.md) sends `{"organizationGuid": …}` here, with the organization's API-key
 * group as the FIFO message group: polls that share a Nutcache API key run one at a time, each at the key's
 * full rate. The poller consumes it (batch size 1). A message received `POLL_MAX_RECEIVES` times without a
 * successful poll moves to the poll queue's own (FIFO) dead-letter queue.
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SECURE_QUEUE_PROPS, terminalQueue } from '../constructs/queues.ts';

/** Receives of one poll message before it moves to the dead-letter queue (a poll and two retries). */
export const POLL_MAX_RECEIVES = 3;

export interface PollQueues {
  readonly pollQueue: sqs.Queue;
  /** Poll messages that failed `POLL_MAX_RECEIVES` times. */
  readonly pollDeadLetterQueue: sqs.Queue;
}

/**
 * The poll queue and its dead-letter queue. `functionTimeout` is the poller's: Lambda requires a visibility
 * timeout at least as long, so a message is not handed out again while its poll still runs.
 */
export function createPollQueues(scope: Construct, functionTimeout: Duration): PollQueues {
  // A FIFO queue's dead-letter queue is FIFO too.
  const pollDeadLetterQueue = terminalQueue(
    scope,
    'PollDeadLetterQueue',
    {
      noDeadLetterQueue:
        'This queue is itself the dead-letter store of the poll queue (terminal): an operator inspects and redrives its messages.',
      noRedrivePolicy:
        'This queue is itself the dead-letter store of the poll queue (terminal): a redrive policy would only move failures again.',
    },
    { fifo: true },
  );
  const pollQueue = new sqs.Queue(scope, 'PollQueue', {
    ...SECURE_QUEUE_PROPS,
    fifo: true,
    // Scheduler's input carries the scheduled time, so a Scheduler retry of one fire is deduplicated and
    // the next fire is not.
    contentBasedDeduplication: true,
    // Deduplication and ordering per API-key group, not per queue: groups are polled in parallel.
    deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
    fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
    visibilityTimeout: functionTimeout.plus(Duration.minutes(1)),
    deadLetterQueue: { queue: pollDeadLetterQueue, maxReceiveCount: POLL_MAX_RECEIVES },
  });
  return { pollQueue, pollDeadLetterQueue };
}
