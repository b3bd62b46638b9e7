/**
 * Webhook delivery: consumes one subscription's SQS queue (fed by its sync rules) and POSTs each event as a
 * Standard Webhooks signed request. Partial batch failures are reported per message (Powertools batch); the
 * retry schedule lives in the messages' visibility timeouts (shared/webhooks/queued-delivery.ts).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE, requireEnv } from '../shared/config/env.ts';
import { powertoolsMetricsSink } from '../shared/runtime/powertools.ts';
import { signingSecretOnContext } from '../shared/runtime/signing-secrets.ts';
import {
  EventSourceMappingSwitch,
  sqsVisibilityChanger,
  WEBHOOK_DELIVERY_ENV,
} from '../shared/webhooks/aws-adapters.ts';
import { checkDeliveryUrl } from '../shared/webhooks/http.ts';
import { deliverQueuedMessage } from '../shared/webhooks/queued-delivery.ts';
import { parseSigningSecrets } from '../shared/webhooks/signing.ts';

const subscriptionName = process.env[WEBHOOK_DELIVERY_ENV.subscriptionName] ?? 'default';
// `webhook-delivery-<environment>` (set by the WebhookSubscription construct): environments sharing an
// account keep their metrics, and the alarms watching them, apart.
const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'webhook-delivery';
const logger = new Logger({
  serviceName,
  persistentKeys: { subscription: subscriptionName },
});
// A default dimension, not addDimension: Powertools clears added dimensions after each flush, so they would
// be missing from every warm invocation (and the alarm on {service, Subscription} would never fire).
const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName,
  defaultDimensions: { Subscription: subscriptionName },
});

const url = checkDeliveryUrl(requireEnv(ENV.webhookUrl));
const queueUrl = requireEnv(WEBHOOK_DELIVERY_ENV.queueUrl);
const sqs = new SQSClient({});
const lambda = new LambdaClient({});
const subscription = new EventSourceMappingSwitch(
  lambda,
  requireEnv('AWS_LAMBDA_FUNCTION_NAME'),
  requireEnv(WEBHOOK_DELIVERY_ENV.queueArn),
  logger,
);
const changeVisibility = sqsVisibilityChanger(sqs, queueUrl);
const metricsSink = powertoolsMetricsSink(metrics);
const processor = new BatchProcessor(EventType.SQS);

type DeliveryContext = Context & { webhookSecret?: unknown };

const deliver = async (event: SQSEvent, context: DeliveryContext) => {
  // The event source mapping received the batch before invoking us: SQS's 12-hour visibility limit of this
  // receive counts from no later than now. The margin (2 × the function timeout) covers the gap.
  const invokedAt = Date.now();
  const visibilityMarginSeconds = 2 * Math.ceil(context.getRemainingTimeInMillis() / 1000);
  const secrets = parseSigningSecrets(context.webhookSecret);
  const recordHandler = async (record: SQSRecord) => {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    const firstReceivedAt = Number(record.attributes.ApproximateFirstReceiveTimestamp);
    return deliverQueuedMessage(
      {
        messageId: record.messageId,
        body: record.body,
        receiptHandle: record.receiptHandle,
        receiveCount,
        // On the first receive, SQS says when it happened; later receives are not timestamped.
        receivedAt:
          receiveCount === 1 && Number.isFinite(firstReceivedAt) && firstReceivedAt > 0
            ? Math.min(firstReceivedAt, invokedAt)
            : invokedAt,
      },
      {
        url,
        secrets: async () => secrets,
        changeVisibility,
        subscription,
        metrics: metricsSink,
        log: logger,
        now: Date.now,
        visibilityMarginSeconds,
      },
    );
  };
  return processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
};

export const handler = middy<SQSEvent>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(signingSecretOnContext('webhookSecret', requireEnv(ENV.webhookSecretArn)))
  .handler(deliver);
