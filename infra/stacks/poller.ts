/**
 * The poller function: its settings, its exact grants (table actions, bus, dead-letter queue, the
 * organizations' secrets by convention) and its trigger, the poll queue. Nothing in it depends on the
 * number of organizations: each poll reads its organization from the registry in the table.
 */
import { resolve } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV, POLLER_SERVICE_NAME } from '../../shared/config/env.ts';
import { v8OldSpaceMb } from '../../shared/engine/memory-fit.ts';
import type { NutcacheCdcConfig } from '../config.ts';
import { NutcacheFunction } from '../constructs/nutcache-function.ts';
import { functionEntry } from '../paths.ts';
import { grantOrganizationSecrets } from './organization-credentials.ts';

/** The poller handler the stack deploys unless told otherwise. */
const DEFAULT_POLLER_ENTRY = functionEntry('poller.ts');

/**
 * How long one poll may run: the handler stops about 20 s before the function timeout. Lambda's maximum: at
 * 180 requests a minute a listing of about 230,000 customers fits (docs/quota.md).
 */
export const POLLER_TIMEOUT = Duration.minutes(15);
/**
 * The DynamoDB calls of the poller (shared/store/dynamodb.ts, shared/quota/dynamodb.ts): its table grant
 * lists exactly these. A BatchWriteItem delete request needs no DeleteItem permission.
 */
const POLLER_TABLE_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
] as const;

/**
 * The poller's Powertools service name in one environment: environments sharing an account and region keep
 * their metrics and alarms apart.
 */
export function pollerServiceName(environmentName: string): string {
  return `${POLLER_SERVICE_NAME}-${environmentName}`;
}

export interface PollerProps {
  readonly config: NutcacheCdcConfig;
  /** The poll queue the poller consumes (one message, one poll). */
  readonly pollQueue: sqs.IQueue;
  readonly table: dynamodb.ITable;
  readonly bus: events.IEventBus;
  readonly deadLetterQueue: sqs.IQueue;
  readonly pollFailureQueue: sqs.IQueue;
  /** @default DEFAULT_POLLER_ENTRY */
  readonly entry?: string;
  /** Where package.json / package-lock.json live (bundling). */
  readonly projectRoot: string;
}

export function createPoller(scope: Construct, props: PollerProps): NutcacheFunction {
  const { config, projectRoot } = props;
  const poller = new NutcacheFunction(scope, 'Poller', {
    entry: props.entry ?? DEFAULT_POLLER_ENTRY,
    description: `Polls Nutcache customers and publishes change events (${config.environmentName})`,
    serviceName: pollerServiceName(config.environmentName),
    timeout: POLLER_TIMEOUT,
    memorySize: config.pollerMemoryMb,
    maxOldSpaceMb: v8OldSpaceMb(config.pollerMemoryMb),
    // None unless configured: a reservation fails the first deploy on a small account (docs/deploy.md).
    reservedConcurrentExecutions: config.pollerReservedConcurrency,
    logRetention: config.logRetentionDays as logs.RetentionDays,
    onFailureQueue: props.pollFailureQueue,
    // Asynchronous direct invocations only (poll-queue messages are retried by SQS, below): a failed poll
    // is retried once; the next scheduled poll catches up anyway.
    retryAttempts: 1,
    maxEventAge: Duration.hours(1),
    projectRoot,
    depsLockFilePath: resolve(projectRoot, 'package-lock.json'),
  })
    .useTable(props.table, POLLER_TABLE_ACTIONS)
    .useBus(props.bus, config.eventSource)
    .useDeadLetterQueue(props.deadLetterQueue)
    .withSetting(ENV.dailyRequestBudget, String(config.dailyRequestBudget))
    .withSetting(ENV.staleAfterIntervals, String(config.staleAfterIntervals));
  grantOrganizationSecrets(poller.role as iam.IRole, config.environmentName);
  // One message per invocation: a failed poll is reported as that message's failure, so SQS hands it out
  // again (up to the queue's maxReceiveCount, then the dead-letter queue) without repeating other polls.
  poller.addEventSource(new SqsEventSource(props.pollQueue, { batchSize: 1, reportBatchItemFailures: true }));
  return poller.acknowledgeFindings(
    {
      id: 'Serverless-LambdaDLQ',
      reason:
        'Failed asynchronous invocations go to an on-failure destination (the SQS poll-failure queue), which supersedes DeadLetterConfig and also records the error.',
    },
    {
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        "Lambda supports no on-failure destination for an SQS event source: a poll message that fails POLL_MAX_RECEIVES times moves to the poll queue's own dead-letter queue (redrive policy).",
    },
  );
}
