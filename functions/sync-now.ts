/**
 * The inbound "sync now" webhook behind a Lambda function URL (auth type NONE: the Standard Webhooks
 * signature is the authentication). Verifies the request, looks the organization up in the registry (unknown:
 * 400, paused: 409), claims its webhook-id, and sends the poll request to the poll queue in the
 * organization's API-key group; answers 202 with the run id (shared/webhooks/sync-now.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { ENV, METRICS_NAMESPACE, type PollerInput, requireEnv } from '../shared/config/env.ts';
import { DynamoOrganizationRegistry } from '../shared/registry/dynamodb.ts';
import { isGuid } from '../shared/registry/model.ts';
import { powertoolsMetricsSink } from '../shared/runtime/powertools.ts';
import { signingSecretOnContext } from '../shared/runtime/signing-secrets.ts';
import { DynamoDbReplayGuard } from '../shared/webhooks/replay-guard.ts';
import { parseSigningSecrets } from '../shared/webhooks/signing.ts';
import { handleSyncNowEvent, type SyncNowOrganization } from '../shared/webhooks/sync-now.ts';

// `sync-now-<environment>` (set by the SyncNowEndpoint construct).
const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'sync-now';
const logger = new Logger({ serviceName });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
const sqs = new SQSClient({});
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const tableName = requireEnv(ENV.tableName);
const replay = new DynamoDbReplayGuard(documents, tableName);
const registry = new DynamoOrganizationRegistry({ client: documents, tableName });
const pollQueueUrl = requireEnv(ENV.pollQueueUrl);
const metricsSink = powertoolsMetricsSink(metrics);

async function findOrganization(organizationGuid: string): Promise<SyncNowOrganization | undefined> {
  return isGuid(organizationGuid) ? registry.get(organizationGuid) : undefined;
}

/** The poll request joins the organization's API-key group: it waits for the polls sharing its key. */
async function startRun(input: PollerInput, organization: SyncNowOrganization): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: pollQueueUrl,
      MessageBody: JSON.stringify(input),
      MessageGroupId: organization.apiKeyGroup,
    }),
  );
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
    findOrganization,
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
