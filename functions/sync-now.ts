/**
 * The inbound "sync now" webhook behind a Lambda function URL (auth type NONE: the Standard Webhooks
 * signature is the authentication). Verifies the request, claims its webhook-id, and invokes the poller
 * asynchronously (InvocationType Event); answers 202 with the run id (shared/webhooks/sync-now.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE, type PollerInput, requireEnv } from '../shared/config/env.ts';
import { powertoolsMetricsSink } from '../shared/runtime/powertools.ts';
import { signingSecretOnContext } from '../shared/runtime/signing-secrets.ts';
import { DynamoDbReplayGuard } from '../shared/webhooks/replay-guard.ts';
import { parseSigningSecrets } from '../shared/webhooks/signing.ts';
import { handleSyncNowEvent, organizationGuidsFromEnv } from '../shared/webhooks/sync-now.ts';

// `sync-now-<environment>` (set by the SyncNowEndpoint construct).
const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'sync-now';
const logger = new Logger({ serviceName });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
const lambda = new LambdaClient({});
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const replay = new DynamoDbReplayGuard(documents, requireEnv(ENV.tableName));
const organizations = organizationGuidsFromEnv(process.env[ENV.organizations]);
const pollerFunctionName = requireEnv(ENV.pollerFunctionName);
const metricsSink = powertoolsMetricsSink(metrics);

async function startRun(input: PollerInput): Promise<void> {
  const result = await lambda.send(
    new InvokeCommand({
      FunctionName: pollerFunctionName,
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify(input)),
    }),
  );
  if (result.StatusCode !== 202) throw new Error(`async invoke answered ${result.StatusCode}`);
}

type SyncNowContext = Context & { inboundSecret?: unknown };

const syncNow = async (
  event: APIGatewayProxyEventV2,
  context: SyncNowContext,
): Promise<APIGatewayProxyResultV2> => {
  const secrets = parseSigningSecrets(context.inboundSecret);
  // The event is parsed, not trusted: one without headers or request context is a 400, not a throw.
  return handleSyncNowEvent(event, {
    secrets: async () => secrets,
    replay,
    organizations,
    startRun,
    now: Date.now,
    log: logger,
    metrics: metricsSink,
  });
};

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(signingSecretOnContext('inboundSecret', requireEnv(ENV.inboundWebhookSecretArn)))
  .handler(syncNow);
