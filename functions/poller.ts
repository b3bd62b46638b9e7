/**
 * The poller Lambda: one poll of one organization per message of the poll queue (batch size 1; the
 * organization's schedule or the "sync now" webhook sent `{"organizationGuid": "…", "mode"?: …}`), or per
 * direct invocation with that request (an operator's `aws lambda invoke`).
 *
 * Thin by design: parse the request, look the organization up in the registry (not registered: outcome
 * `unconfigured`; paused: `skipped`; neither polls), hand over to the shared service
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
import type { Context, SQSBatchItemFailure, SQSBatchResponse } from 'aws-lambda';
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
import { DynamoOrganizationRegistry } from '../shared/registry/dynamodb.ts';
import type { RegisteredOrganization } from '../shared/registry/model.ts';
import { OrganizationSecrets } from '../shared/runtime/organization-secrets.ts';
import {
  DEFAULT_STALE_AFTER_INTERVALS,
  reportStaleness as reportOrganizationStaleness,
} from '../shared/runtime/organization-staleness.ts';
import { type PollRequest, pollableOrganization, pollRequestsOf } from '../shared/runtime/organizations.ts';
import {
  notPolled,
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
const secrets = new OrganizationSecrets({ client: new SecretsManagerClient({}) });
const documentClient = createDocumentClient(new DynamoDBClient({}));
const tableName = requireEnv(ENV.tableName);
const store = new DynamoSnapshotStore({ client: documentClient, tableName });
const registry = new DynamoOrganizationRegistry({ client: documentClient, tableName });
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

type PollerResponse = PollSummary | SQSBatchResponse;

/**
 * A poll-queue message whose poll failed is reported as a batch item failure: SQS hands it out again, up to
 * the queue's maximum receives, then moves it to the dead-letter queue. A direct invocation fails instead.
 */
async function pollHandler(event: unknown, context: Context): Promise<PollerResponse> {
  const deadline = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS;
  const requests = pollRequestsOf(event);
  const [direct] = requests;
  if (requests.length === 1 && direct && direct.messageId === undefined) return pollOne(direct, deadline);
  const batchItemFailures: SQSBatchItemFailure[] = [];
  for (const request of requests) {
    await pollOne(request, deadline).catch(() => {
      batchItemFailures.push({ itemIdentifier: request.messageId ?? '' });
    });
  }
  return { batchItemFailures };
}

async function pollOne({ input, messageId }: PollRequest, deadline: number): Promise<PollSummary> {
  if (input instanceof Error) {
    // Retrying cannot repair a malformed message: it is dropped, with one error line.
    logger.error(`poll message dropped: ${input.message}`, { messageId });
    return {
      organizationGuid: '',
      pollId: '',
      outcome: 'unconfigured',
      counts: {},
      nutcacheRequests: 0,
      durationMs: 0,
    };
  }
  const target = await pollableOrganization(registry, input.organizationGuid);
  const guid = 'organization' in target ? target.organization.organizationGuid : input.organizationGuid;
  logger.appendKeys({ organizationGuid: guid });
  metrics.addDimension('organizationGuid', guid);
  if (!('organization' in target))
    return notPolled({ log: logger, metrics: metricsSink }, target, guid, input);
  const summary = await pollOrganization(
    dependenciesFor(target.organization, deadline),
    { organizationGuid: guid, secretArn: target.secretArn },
    pollOptions(input, target.organization, deadline),
  ).catch(async (error: unknown) => {
    // A secret that cannot be read fails the poll by throwing: the organization may be stale all the same.
    await reportStaleness(target.organization, 'failed');
    throw error;
  });
  await reportStaleness(target.organization, summary.outcome);
  // A failed poll is an error (alarms, retries); busy, partial, deadline, deferred and unconfigured polls
  // are not: what they left undone is redone by the next scheduled poll.
  if (summary.outcome === 'failed') throw new Error(`poll failed: ${summary.error ?? 'unknown error'}`);
  return summary;
}

/** Intervals without a successful poll after which an organization is stale (docs/organizations.md). */
const staleAfterIntervals = Number(process.env[ENV.staleAfterIntervals] || DEFAULT_STALE_AFTER_INTERVALS);

/** Names a stale organization: a log line, a metric and an `Organization Stale` event (organization-staleness.ts). */
function reportStaleness(
  organization: RegisteredOrganization,
  outcome: PollSummary['outcome'],
): Promise<void> {
  const deps = { store, bus, clock: systemClock, log: logger, metrics: metricsSink, source: eventSource };
  return reportOrganizationStaleness({ ...deps, staleAfterIntervals }, organization, outcome);
}

/**
 * The poll's dependencies. Polls sharing an API key run one at a time (one message group of the poll queue),
 * so each uses the key's full request rate (the client's default).
 */
function dependenciesFor(organization: RegisteredOrganization, deadline: number): OrganizationPollDeps {
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
        ...(organization.baseUrl ? { baseUrl: organization.baseUrl } : {}),
        deadline,
        logger,
        clock: systemClock,
      }),
    quota: { ...quota, intervalMs: organization.everyMinutes * 60_000 },
  };
}

function pollOptions(
  input: PollerInput,
  organization: RegisteredOrganization,
  deadline: number,
): PollOptions {
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

export const handler = middy<unknown, PollerResponse>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  .handler(pollHandler);
