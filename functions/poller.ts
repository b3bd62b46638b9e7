/**
 * The poller Lambda: one poll of one organization, started by EventBridge Scheduler (or by the "sync now"
 * webhook) with `{"organizationGuid": "…", "mode"?: "poll" | "resync"}`.
 *
 * Thin by design: parse the input, find the organization, hand over to the shared service
 * (shared/runtime/poll-organization.ts), which reads that organization's secret only (cached for 5 minutes
 * and read again, bypassing the cache, once after Nutcache answers 401), skips the poll quietly while the
 * secret is not filled in (`unconfigured`), and polls. SDK clients, the logger and metrics live at module
 * scope and are reused across invocations.
 */

import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import {
  ENV,
  METRICS_NAMESPACE,
  POLLER_SERVICE_NAME,
  type PollerInput,
  requireEnv,
} from '../shared/config/env.ts';
import type { PollOptions } from '../shared/engine/poll.ts';
import { DEFAULT_EVENT_SOURCE } from '../shared/events/contract.ts';
import { NutcacheClient } from '../shared/nutcache/client.ts';
import { clientConfigFromSecret } from '../shared/nutcache/secret.ts';
import { SqsDeadLetterSink } from '../shared/publish/dead-letter.ts';
import { EventBridgeBus } from '../shared/publish/eventbridge.ts';
import { DEFAULT_DAILY_BUDGET } from '../shared/quota/budget.ts';
import { DynamoQuotaStore } from '../shared/quota/dynamodb.ts';
import { OrganizationSecrets } from '../shared/runtime/organization-secrets.ts';
import {
  findOrganization,
  type OrganizationConfig,
  parseOrganizationsEnv,
  parsePollerInput,
} from '../shared/runtime/organizations.ts';
import {
  type OrganizationPollDeps,
  type PollSummary,
  pollOrganization,
} from '../shared/runtime/poll-organization.ts';
import { powertoolsMetricsSink } from '../shared/runtime/powertools.ts';
import { createDocumentClient, DynamoSnapshotStore } from '../shared/store/dynamodb.ts';
import { systemClock } from '../shared/util/clock.ts';

/** Time kept free before the Lambda timeout to finish publishing and write the run record. */
const SAFETY_MARGIN_MS = 20_000;

// POWERTOOLS_SERVICE_NAME (set by the stack) names the service, so two environments never share metrics.
const serviceName = process.env.POWERTOOLS_SERVICE_NAME || POLLER_SERVICE_NAME;
const logger = new Logger({ serviceName });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
  serviceName,
});
const organizations = parseOrganizationsEnv(process.env[ENV.organizations]);
const secrets = new OrganizationSecrets({ client: new SecretsManagerClient({}) });
const documentClient = createDocumentClient(new DynamoDBClient({}));
const tableName = requireEnv(ENV.tableName);
const store = new DynamoSnapshotStore({ client: documentClient, tableName });
/** Each poll is admitted against its API key's daily Nutcache budget, counted in the same table. */
const quota = {
  store: new DynamoQuotaStore({ client: documentClient, tableName }),
  dailyBudget: parseDailyBudget(process.env[ENV.dailyRequestBudget]),
};

function parseDailyBudget(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_DAILY_BUDGET;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${ENV.dailyRequestBudget} must be a whole number >= 1`);
  return n;
}
const bus = new EventBridgeBus({
  client: new EventBridgeClient({}),
  eventBusName: requireEnv(ENV.eventBusName),
});
const deadLetters = new SqsDeadLetterSink({
  client: new SQSClient({}),
  queueUrl: requireEnv(ENV.deadLetterQueueUrl),
  clock: systemClock,
});
const eventSource = process.env[ENV.eventSource] || DEFAULT_EVENT_SOURCE;
const metricsSink = powertoolsMetricsSink(metrics);

async function pollHandler(event: unknown, context: Context): Promise<PollSummary> {
  const input = parsePollerInput(event);
  const organization = findOrganization(organizations, input.organizationGuid);
  if (!organization) {
    throw new Error(`organization ${input.organizationGuid} is not configured for this poller`);
  }
  logger.appendKeys({ organizationGuid: organization.organizationGuid });
  metrics.addDimension('organizationGuid', organization.organizationGuid);
  const deadline = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;

  const summary = await pollOrganization(
    dependenciesFor(organization, deadline),
    organization,
    pollOptions(input, organization, deadline),
  );
  // A failed poll is an error for Lambda (alarms, retries); busy, partial, deadline, deferred and
  // unconfigured polls are not: what they left undone is redone by the next scheduled poll.
  if (summary.outcome === 'failed') throw new Error(`poll failed: ${summary.error ?? 'unknown error'}`);
  return summary;
}

function dependenciesFor(organization: OrganizationConfig, deadline: number): OrganizationPollDeps {
  return {
    store,
    bus,
    deadLetters,
    clock: systemClock,
    log: logger,
    metrics: metricsSink,
    secrets,
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
      ...(organization.scheduleRateMinutes ? { intervalMs: organization.scheduleRateMinutes * 60_000 } : {}),
    },
  };
}

function pollOptions(input: PollerInput, organization: OrganizationConfig, deadline: number): PollOptions {
  return {
    organizationGuid: organization.organizationGuid,
    // No mode for a scheduled poll: the engine then carries on a resync that was cut short.
    ...(input.mode ? { mode: input.mode } : {}),
    initialEvents: organization.initialEvents ?? 'snapshot',
    allowMassDeletion: input.allowMassDeletion ?? false,
    eventSource,
    deadline,
    ...(input.pollId ? { pollId: input.pollId } : {}),
  };
}

export type { PollSummary };

export const handler = middy<unknown, PollSummary>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(pollHandler);
