/**
 * The delivery function's metrics as CloudWatch receives them (the EMF lines Powertools prints): the
 * `WebhookSubscriptionDisabled` alarm watches {service, Subscription}, so every invocation, warm ones
 * included, must emit both dimensions.
 */
import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it, vi } from 'vitest';
import { generateWebhookSecret } from '../../shared/webhooks/signing.ts';
import { deliveryContext, deliveryRecord } from './sqs-fixtures.ts';

const secret = generateWebhookSecret();
mockClient(SecretsManagerClient)
  .on(GetSecretValueCommand)
  .resolves({ SecretString: JSON.stringify({ secrets: [secret] }) });
mockClient(SQSClient).on(ChangeMessageVisibilityCommand).resolves({});
const lambda = mockClient(LambdaClient);
lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'esm-1' }] });
lambda.on(UpdateEventSourceMappingCommand).resolves({});

function record(id: string): SQSRecord {
  return deliveryRecord(id, { firstReceivedAt: Date.now() });
}

const context = deliveryContext;

interface EmfLine {
  readonly _aws: { readonly CloudWatchMetrics: { readonly Dimensions: string[][] }[] };
  readonly [key: string]: unknown;
}

describe('webhook delivery metrics', () => {
  it("emits its metrics under its environment's service name with the {service, Subscription} dimensions the alarm watches, warm invocations too", async () => {
    Object.assign(process.env, {
      WEBHOOK_URL: 'https://crm.example.com/hooks',
      WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf',
      WEBHOOK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook',
      WEBHOOK_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:123456789012:webhook',
      WEBHOOK_SUBSCRIPTION_NAME: 'crm',
      POWERTOOLS_SERVICE_NAME: 'webhook-delivery-test',
      AWS_LAMBDA_FUNCTION_NAME: 'delivery',
      AWS_REGION: 'eu-west-1',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    let status = 204;
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async () => new Response(null, { status })) as typeof fetch;
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const { handler } = (await import('../../functions/webhook-delivery.ts')) as unknown as {
        handler: (event: SQSEvent, context: Context) => Promise<unknown>;
      };
      const emf = (): EmfLine[] =>
        lines
          .flatMap((l) => l.split('\n'))
          .filter((l) => l.includes('"_aws"'))
          .map((l) => JSON.parse(l) as EmfLine);

      await handler({ Records: [record('a')] }, context); // cold: delivered
      const delivered = emf().find((m) => 'WebhookDelivered' in m);
      expect(delivered?.service).toBe('webhook-delivery-test');
      expect(delivered?.Subscription).toBe('crm');
      expect(delivered?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(
        expect.arrayContaining(['service', 'Subscription']),
      );

      lines.length = 0;
      status = 410;
      await handler({ Records: [record('b')] }, context); // warm: 410 Gone
      const disabled = emf().find((m) => 'WebhookSubscriptionDisabled' in m);
      expect(disabled?.service).toBe('webhook-delivery-test');
      expect(disabled?.Subscription).toBe('crm');
      expect(disabled?._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(
        expect.arrayContaining(['service', 'Subscription']),
      );
    } finally {
      spy.mockRestore();
      globalThis.fetch = realFetch;
    }
  });
});
