/**
 * The poller Lambda: one poll of one organization, started by EventBridge Scheduler (or by the "sync now"
 * webhook) with `{"organizationGuid": "…", "mode"?: "poll" | "resync"}`.
 *
 * Thin by design: parse the input, find the organization, hand over to the shared poller service. SDK
 * clients, the logger and metrics live at module scope and are reused across invocations; the
 * organizations' secrets come through middy's Secrets Manager middleware (cached for 5 minutes) and are
 * fetched again, bypassing the cache, once after Nutcache answers 401.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import secretsManager from '@middy/secrets-manager';
import { clearCache } from '@middy/util';
import type { Context } from 'aws-lambda';
import { ENV } from '../shared/config/env.ts';
import { DEFAULT_EVENT_SOURCE } from '../shared/events/contract.ts';
import { NutcacheClient } from '../shared/nutcache/client.ts';
import { clientConfigFromSecret, parseNutcacheSecret } from '../shared/nutcache/secret.ts';
import { SqsDeadLetterSink } from '../shared/publish/dead-letter.ts';
import { EventBridgeBus } from '../shared/publish/eventbridge.ts';
import { DynamoQuotaStore } from '../shared/quota/dynamodb.ts';
import {
  findOrganization,
  parseOrganizationsEnv,
  parsePollerInput,
} from '../shared/runtime/organizations.ts';
import { pollWithCredentials } from '../shared/runtime/poller-service.ts';
import { PowertoolsMetricsSink } from '../shared/runtime/powertools.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../shared/store/dynamodb.ts';
import { systemClock } from '../shared/util/clock.ts';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

const SECRETS_CACHE_KEY = 'nutcache-organization-secrets';
/** Time kept free before the Lambda timeout to finish publishing and write the run record. */
const SAFETY_MARGIN_MS = 20_000;

// POWERTOOLS_SERVICE_NAME (set by the stack) names the service, so two environments never share metrics.
const serviceName = process.env.POWERTOOLS_SERVICE_NAME || 'nutcache-cdc-poller';
const logger = new Logger({ serviceName });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || 'NutcacheCdc',
  serviceName,
});
const organizations = parseOrganizationsEnv(process.env[ENV.organizations]);
const secretKeys = new Map(organizations.map((o, i) => [o.organizationGuid.toUpperCase(), `org${i}`]));

const secretsClient = new SecretsManagerClient({});
const documentClient = createDocumentClient(new DynamoDBClient({}));
const tableName = requiredEnv(ENV.tableName);
const store = new DynamoSnapshotStore({ client: documentClient, tableName });
/** Each poll is admitted against its API key's daily Nutcache budget, counted in the same table. */
const quota = {
  store: new DynamoQuotaStore({ client: documentClient, tableName }),
  dailyBudget: parseDailyBudget(process.env[ENV.dailyRequestBudget]),
};

function parseDailyBudget(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 20_000;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${ENV.dailyRequestBudget} must be a whole number >= 1`);
  return n;
}
const bus = new EventBridgeBus({
  client: new EventBridgeClient({}),
  eventBusName: requiredEnv(ENV.eventBusName),
});
const deadLetters = new SqsDeadLetterSink({
  client: new SQSClient({}),
  queueUrl: requiredEnv(ENV.deadLetterQueueUrl),
  clock: systemClock,
});
const eventSource = process.env[ENV.eventSource] || DEFAULT_EVENT_SOURCE;
const metricsSink = new PowertoolsMetricsSink(metrics);

export interface PollSummary {
  readonly organizationGuid: string;
  readonly pollId: string;
  readonly outcome: string;
  readonly counts: Record<string, number>;
  readonly nutcacheRequests: number;
  readonly durationMs: number;
}

async function pollHandler(event: unknown, context: Context): Promise<PollSummary> {
  const input = parsePollerInput(event);
  const organization = findOrganization(organizations, input.organizationGuid);
  if (!organization) {
    throw new Error(`organization ${input.organizationGuid} is not configured for this poller`);
  }
  const secretKey = secretKeys.get(organization.organizationGuid.toUpperCase()) as string;
  logger.appendKeys({ organizationGuid: organization.organizationGuid });
  metrics.addDimension('organizationGuid', organization.organizationGuid);
  const deadline = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;

  const result = await pollWithCredentials(
    {
      store,
      bus,
      deadLetters,
      clock: systemClock,
      log: logger,
      metrics: metricsSink,
      async getSecret(fresh) {
        if (!fresh) {
          return parseNutcacheSecret(
            (context as unknown as Record<string, unknown>)[secretKey],
            organization.secretArn,
          );
        }
        clearCache([SECRETS_CACHE_KEY]);
        const answer = await secretsClient.send(
          new GetSecretValueCommand({ SecretId: organization.secretArn }),
        );
        return parseNutcacheSecret(answer.SecretString, organization.secretArn);
      },
      createSource: (secret) =>
        new NutcacheClient({
          ...clientConfigFromSecret(secret),
          deadline,
          logger,
          clock: systemClock,
          ...(organization.rateLimit ? { rateLimit: organization.rateLimit } : {}),
        }),
      quota: {
        ...quota,
        ...(organization.scheduleRateMinutes
          ? { intervalMs: organization.scheduleRateMinutes * 60_000 }
          : {}),
      },
    },
    {
      organizationGuid: organization.organizationGuid,
      // No mode for a scheduled poll: the engine then carries on a resync that was cut short.
      ...(input.mode ? { mode: input.mode } : {}),
      initialEvents: organization.initialEvents ?? 'snapshot',
      allowMassDeletion: input.allowMassDeletion ?? false,
      eventSource,
      deadline,
      ...(input.pollId ? { pollId: input.pollId } : {}),
    },
  );
  const summary: PollSummary = {
    organizationGuid: result.organizationGuid,
    pollId: result.pollId,
    outcome: result.outcome,
    counts: { ...result.counts },
    nutcacheRequests: result.nutcacheRequests,
    durationMs: result.durationMs,
  };
  // A failed poll is an error for Lambda (alarms, retries); busy, partial and deadline polls are not:
  // what they left undone is redone by the next scheduled poll.
  if (result.outcome === 'failed') throw new Error(`poll failed: ${result.error ?? 'unknown error'}`);
  return summary;
}

export const handler = middy<unknown, PollSummary>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .use(
    secretsManager({
      fetchData: Object.fromEntries(organizations.map((o, i) => [`org${i}`, o.secretArn])),
      cacheKey: SECRETS_CACHE_KEY,
      cacheExpiry: 5 * 60_000,
      setToContext: true,
      awsClientOptions: {},
    }),
  )
  .handler(pollHandler);
