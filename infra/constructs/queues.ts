/** The SQS queues of the stack and its constructs: encrypted, TLS only, messages kept 14 days. */
import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Every queue's settings: SQS-managed encryption, plain-HTTP access refused, the longest retention. */
export const SECURE_QUEUE_PROPS = {
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
  retentionPeriod: Duration.days(14),
} as const satisfies sqs.QueueProps;

/** Why a terminal queue (a dead-letter store) has no dead-letter queue of its own, for each cdk-nag pack. */
export interface TerminalQueueReasons {
  /** AwsSolutions-SQS3 (the queue has no dead-letter queue). */
  readonly noDeadLetterQueue: string;
  /** Serverless-SQSRedrivePolicy (the queue has no redrive policy). */
  readonly noRedrivePolicy: string;
}

/** A dead-letter store: a secure queue whose messages an operator inspects and redrives. */
export function terminalQueue(
  scope: Construct,
  id: string,
  reasons: TerminalQueueReasons,
  props: Pick<sqs.QueueProps, 'fifo'> = {},
): sqs.Queue {
  const queue = new sqs.Queue(scope, id, { ...SECURE_QUEUE_PROPS, ...props });
  Validations.of(queue).acknowledge(
    { id: 'AwsSolutions-SQS3', reason: reasons.noDeadLetterQueue },
    { id: 'Serverless-SQSRedrivePolicy', reason: reasons.noRedrivePolicy },
  );
  return queue;
}
