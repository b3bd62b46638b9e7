/**
 * AWS list prices, us-east-1, on-demand, without free tiers (docs/performance.md "Scale" cites the pages).
 */
export const PRICES_USD = {
  /** EventBridge Scheduler: per invocation ($1.00 per million). */
  schedulerInvocation: 1.0 / 1e6,
  /** SQS FIFO queue: per request, up to 64 KB ($0.50 per million). */
  sqsFifoRequest: 0.5 / 1e6,
  /** Lambda: per request ($0.20 per million). */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda x86 duration: per GB-second ($0.0000166667). */
  lambdaGbSecond: 0.0000166667,
  /** DynamoDB on-demand: per write request unit ($0.625 per million). */
  dynamoWriteUnit: 0.625 / 1e6,
  /** DynamoDB on-demand: per read request unit ($0.125 per million). */
  dynamoReadUnit: 0.125 / 1e6,
  /** Secrets Manager: per secret per month. */
  secretMonth: 0.4,
  /** Secrets Manager: per API call ($0.05 per 10,000). */
  secretsCall: 0.05 / 10_000,
} as const;

/** Estimated, not simulated: empty long polls of the Lambda event source (5 pollers, one 20 s poll each). */
export const EMPTY_RECEIVES_PER_MONTH = 5 * 3 * 60 * 24 * 30;

export const DAYS_PER_MONTH = 30;
