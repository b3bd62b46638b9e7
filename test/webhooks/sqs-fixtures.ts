/** An SQS record carrying one of our customer events, and a Lambda context, for the delivery handler. */
import type { Context, SQSRecord } from 'aws-lambda';
import { customer, customerEvent } from '../rules/customer-events.ts';

export function deliveryRecord(
  id: string,
  options: { eventId?: string; receiveCount?: number; firstReceivedAt?: number } = {},
): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: JSON.stringify(
      customerEvent(
        'updated',
        customer({ status: 0 }),
        customer({ status: 1 }),
        options.eventId ?? `evt-${id}`,
      ),
    ),
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '0',
      SenderId: 'events',
      ApproximateFirstReceiveTimestamp: String(options.firstReceivedAt ?? 0),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:webhook',
    awsRegion: 'eu-west-1',
  };
}

export const deliveryContext = {
  functionName: 'delivery',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;
