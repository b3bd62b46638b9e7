/**
 * The single DynamoDB table's key schema, shared by the store adapter and the CDK stack so they can never
 * disagree. The item layout is documented in docs/data-model.md.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes the item some time after it. */
  timeToLive: 'expiresAt',
} as const;

/** BatchWriteItem takes at most 25 requests: the customer batch of a commit step, kept by both adapters. */
export const BATCH_WRITE_MAX = 25;
