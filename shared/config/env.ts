/**
 * Environment variable names shared by the CDK stacks (which set them) and the Lambda handlers (which read
 * them), so the two can never drift apart.
 */
export const ENV = {
  /** The DynamoDB table holding snapshots, index, leases, journal and run records. */
  tableName: 'TABLE_NAME',
  /** Name of the EventBridge bus the poller publishes to. */
  eventBusName: 'EVENT_BUS_NAME',
  /** `source` of published events (default nutcache.customers). */
  eventSource: 'EVENT_SOURCE',
  /** URL of the SQS queue receiving events that can never be published. */
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** Daily Nutcache request budget per API key (default 20000). */
  dailyRequestBudget: 'DAILY_REQUEST_BUDGET',
  /** ARN or name of the poller function (for the inbound "sync now" webhook, which invokes it). */
  pollerFunctionName: 'POLLER_FUNCTION_NAME',
  /** URL of the FIFO poll queue (the inbound "sync now" webhook sends poll requests to it). */
  pollQueueUrl: 'POLL_QUEUE_URL',
  /** An organization is stale after this many of its intervals without a successful poll. */
  staleAfterIntervals: 'STALE_AFTER_INTERVALS',
  /** Secret holding the inbound webhook's Standard Webhooks secret. */
  inboundWebhookSecretArn: 'INBOUND_WEBHOOK_SECRET_ARN',
  /** Secret holding a subscription's outbound webhook signing secret(s). */
  webhookSecretArn: 'WEBHOOK_SECRET_ARN',
  /** URL a webhook subscription delivers to. */
  webhookUrl: 'WEBHOOK_URL',
} as const;

/** CloudWatch namespace of every metric the product publishes (the stacks' alarms and dashboards read it). */
export const METRICS_NAMESPACE = 'NutcacheCdc';

/**
 * The poller's Powertools service name (the `service` dimension of its metrics). The stack deploys it as
 * `<POLLER_SERVICE_NAME>-<environment>`; a poller run without that setting uses the bare name.
 */
export const POLLER_SERVICE_NAME = 'nutcache-cdc-poller';

/** The value of a required environment variable; throws, naming it, when it is unset or empty. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** The poller Lambda's input (an EventBridge Scheduler target input, or an async invoke). */
export interface PollerInput {
  readonly organizationGuid: string;
  readonly mode?: 'poll' | 'resync';
  readonly allowMassDeletion?: boolean;
  /** Set by the "sync now" webhook so its 202 answer can name the run. */
  readonly pollId?: string;
}
