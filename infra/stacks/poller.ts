/**
 * The poller function: its settings, its exact grants (table actions, bus, dead-letter queue, the
 * organizations' secrets) and each organization's share of its API key's request rate.
 */
import { resolve } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV, POLLER_SERVICE_NAME } from '../../shared/config/env.ts';
import { v8OldSpaceMb } from '../../shared/engine/memory-fit.ts';
import { type NutcacheCdcConfig, type OrganizationConfig, rateShare } from '../config.ts';
import { NutcacheFunction, type OrganizationBinding } from '../constructs/nutcache-function.ts';
import { functionEntry } from '../paths.ts';
import type { OrganizationSecret } from './organization-polling.ts';

/** The poller handler the stack deploys unless told otherwise. */
const DEFAULT_POLLER_ENTRY = functionEntry('poller.ts');

/**
 * How long one poll may run: the handler stops about 20 s before the function timeout. Lambda's maximum: at
 * 180 requests a minute a listing of about 230,000 customers fits (docs/quota.md).
 */
const POLLER_TIMEOUT = Duration.minutes(15);
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
  readonly secrets: readonly OrganizationSecret[];
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
    // A failed poll is retried once; the next scheduled poll catches up anyway.
    retryAttempts: 1,
    maxEventAge: Duration.hours(1),
    projectRoot,
    depsLockFilePath: resolve(projectRoot, 'package-lock.json'),
  })
    .useTable(props.table, POLLER_TABLE_ACTIONS)
    .useBus(props.bus, config.eventSource)
    .useDeadLetterQueue(props.deadLetterQueue)
    .useOrganizationSecrets(organizationBindings(config, props.secrets))
    .withSetting(ENV.dailyRequestBudget, String(config.dailyRequestBudget));
  return poller.acknowledgeFindings({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Failed asynchronous invocations go to an on-failure destination (the SQS poll-failure queue), which supersedes DeadLetterConfig and also records the error.',
  });
}

/** What the poller is told about each organization (its `ORGANIZATIONS` variable) and may read. */
function organizationBindings(
  config: NutcacheCdcConfig,
  secrets: readonly OrganizationSecret[],
): OrganizationBinding[] {
  const sharing = apiKeySharing(config.organizations);
  return secrets.map(({ org, secret }) => ({
    organizationGuid: org.organizationGuid,
    secret,
    initialEvents: org.initialEvents ?? config.initialEvents,
    scheduleRateMinutes: org.scheduleRateMinutes,
    rateLimit: rateShare(sharing(org)),
    secretKmsKeyArn: org.secret.type === 'import' ? org.secret.kmsKeyArn : undefined,
  }));
}

/**
 * How many organizations share each organization's API key. They split its request rate: their polls may
 * run at the same time in different Lambda instances, and each instance's limiter only knows its own requests.
 */
function apiKeySharing(organizations: readonly OrganizationConfig[]): (org: OrganizationConfig) => number {
  const sharingKey = (org: OrganizationConfig) => org.apiKeyGroup ?? `guid:${org.organizationGuid}`;
  const groupSize = new Map<string, number>();
  for (const org of organizations) groupSize.set(sharingKey(org), (groupSize.get(sharingKey(org)) ?? 0) + 1);
  return (org) => groupSize.get(sharingKey(org)) ?? 1;
}
