/**
 * AWS adapters of the webhook ports: the subscription switch (the delivery function's SQS event source
 * mapping), the SQS visibility change, and Powertools metrics behind the MetricsSink port.
 */
import {
  type LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Log } from '../ports.ts';
import type { SubscriptionSwitch } from './queued-delivery.ts';

/** Environment of the delivery function (besides ENV.webhookUrl and ENV.webhookSecretArn). */
export const WEBHOOK_DELIVERY_ENV = {
  /** The subscription's queue, for visibility changes. */
  queueUrl: 'WEBHOOK_QUEUE_URL',
  /** The subscription's queue, to find the event source mapping to disable. */
  queueArn: 'WEBHOOK_QUEUE_ARN',
  /** The subscription's name (a metric dimension). */
  subscriptionName: 'WEBHOOK_SUBSCRIPTION_NAME',
} as const;

/**
 * Disabling a subscription = disabling the delivery function's event source mapping on the subscription's
 * queue: nothing more is sent to the endpoint, and events keep accumulating in the queue (up to its 14-day
 * retention) until an operator re-enables the mapping (docs/webhooks.md).
 */
export class EventSourceMappingSwitch implements SubscriptionSwitch {
  private isDisabled = false;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly lambda: LambdaClient,
    private readonly functionName: string,
    private readonly queueArn: string,
    private readonly log: Log,
  ) {}

  /** True only once the mapping was actually disabled (not while or after a failed attempt). */
  get disabled(): boolean {
    return this.isDisabled;
  }

  /**
   * Concurrent calls (several 410s in one batch) share one attempt. When listing or updating the mapping
   * fails, the error is thrown and the switch stays on, so the next 410 tries again.
   */
  async disable(reason: string): Promise<void> {
    if (this.isDisabled) return;
    this.pending ??= this.disableMapping(reason).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async disableMapping(reason: string): Promise<void> {
    const listed = await this.lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: this.functionName, EventSourceArn: this.queueArn }),
    );
    for (const mapping of listed.EventSourceMappings ?? []) {
      if (!mapping.UUID) continue;
      await this.lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, Enabled: false }));
      this.log.error('Webhook subscription disabled', { reason, eventSourceMapping: mapping.UUID });
    }
    this.isDisabled = true;
  }
}

export function sqsVisibilityChanger(sqs: SQSClient, queueUrl: string) {
  return async (receiptHandle: string, seconds: number): Promise<void> => {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  };
}
