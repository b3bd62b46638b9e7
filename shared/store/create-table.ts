/**
 * Creates the store table (for local runs on dynalite and for tests; in AWS the CDK stack owns it).
 * Idempotent: an existing table is fine. Waits until the table is ACTIVE.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS } from './table.ts';

export interface CreateTableResult {
  /** False when the table already existed. */
  readonly created: boolean;
  /** False when the endpoint does not support TTL (dynalite): run records then stay until deleted. */
  readonly timeToLive: boolean;
}

export async function createTable(
  client: DynamoDBClient,
  tableName: string,
  options: { maxWaitSeconds?: number } = {},
): Promise<CreateTableResult> {
  let created = true;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof Error && err.name === 'ResourceInUseException')) throw err;
    created = false;
  }
  await waitUntilTableExists(
    { client, maxWaitTime: options.maxWaitSeconds ?? 60, minDelay: 1, maxDelay: 2 },
    { TableName: tableName },
  );
  let timeToLive = true;
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.timeToLive, Enabled: true },
      }),
    );
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    // Already enabled (a second run against real DynamoDB) is fine.
    if (name === 'ValidationException' && /already enabled/i.test((err as Error).message)) {
      return { created, timeToLive: true };
    }
    // dynalite has no UpdateTimeToLive: it answers UnknownOperationException.
    if (name === 'UnknownOperationException' || name === 'UnrecognizedClientException') {
      timeToLive = false;
    } else {
      throw err;
    }
  }
  return { created, timeToLive };
}
