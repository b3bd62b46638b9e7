/**
 * The delivery Lambda handler end to end, with AWS faked (aws-sdk-client-mock: Secrets Manager for the
 * signing secret, SQS for visibility changes, Lambda for disabling the event source mapping) and a real
 * loopback receiver: each SQS record is one attempt, failures come back as partial batch failures.
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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../shared/webhooks/signing.ts';
import { type Receiver, startReceiver } from './receiver.ts';
import { deliveryContext, deliveryRecord } from './sqs-fixtures.ts';

const secret = generateWebhookSecret();
const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);
const lambda = mockClient(LambdaClient);
let receiver: Receiver;
let handler: (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

function record(id: string, eventId: string, receiveCount = 1): SQSRecord {
  return deliveryRecord(id, { eventId, receiveCount });
}

const context = deliveryContext;

beforeAll(async () => {
  receiver = await startReceiver(secret);
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ secrets: [secret] }) });
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'esm-1' }] });
  lambda.on(UpdateEventSourceMappingCommand).resolves({});
  // The handler reads its configuration at cold start. Deployed, WEBHOOK_URL must be https; the fetch
  // stub below routes that https URL to the loopback receiver.
  Object.assign(process.env, {
    WEBHOOK_URL: 'https://crm.example.com/hooks/nutcache',
    WEBHOOK_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf',
    WEBHOOK_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook',
    WEBHOOK_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:123456789012:webhook',
    WEBHOOK_SUBSCRIPTION_NAME: 'crm',
    AWS_LAMBDA_FUNCTION_NAME: 'delivery',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const realFetch = globalThis.fetch;
  // Route the deployed https URL to the loopback receiver (the handler uses the global fetch).
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const target = new URL(receiver.url);
    url.protocol = 'http:';
    url.host = target.host;
    return realFetch(url, init);
  }) as typeof fetch;
  ({ handler } = (await import('../../functions/webhook-delivery.ts')) as unknown as {
    handler: typeof handler;
  });
});
afterAll(async () => {
  await receiver.close();
});

describe('webhook delivery handler', () => {
  it('delivers signed events and reports only the failed message, with its retry scheduled', async () => {
    receiver.script.push({ status: 204 }, { status: 500 });
    const result = await handler({ Records: [record('a', 'evt-a'), record('b', 'evt-b', 2)] }, context);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['b']);
    expect(receiver.received.every((r) => r.verified.ok)).toBe(true);
    expect(receiver.received.map((r) => r.headers['webhook-id']).sort()).toEqual(['evt-a', 'evt-b']);
    const visibility = sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input);
    expect(visibility).toEqual([
      {
        QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhook',
        ReceiptHandle: 'rh-b',
        VisibilityTimeout: 300,
      },
    ]);
  });

  it("keeps a 12 h wait within SQS's limit: 12 h from the receive, less twice the function timeout", async () => {
    sqs.resetHistory();
    receiver.script.push({ status: 500 });
    const result = await handler({ Records: [record('d', 'evt-d', 8)] }, context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'd' }]);
    const [call] = sqs.commandCalls(ChangeMessageVisibilityCommand);
    // context: 60 s left at the start, so the margin is 120 s; the attempt itself took a second at most.
    expect(call?.args[0].input.VisibilityTimeout).toBeLessThanOrEqual(43_200 - 120);
    expect(call?.args[0].input.VisibilityTimeout).toBeGreaterThanOrEqual(43_200 - 120 - 1);
  });

  it('disables its event source mapping when the endpoint answers 410', async () => {
    receiver.script.push({ status: 410 });
    const result = await handler({ Records: [record('c', 'evt-c')] }, context);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'c' }]);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)[0]?.args[0].input).toEqual({
      FunctionName: 'delivery',
      EventSourceArn: 'arn:aws:sqs:eu-west-1:123456789012:webhook',
    });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      UUID: 'esm-1',
      Enabled: false,
    });
  });
});
