/**
 * The DynamoDB `QuotaStore`: one item per API key per UTC day in the single table,
 * `pk = QUOTA#<apiKeyId>`, `sk = DAY#<YYYY-MM-DD>`, counted with an atomic `ADD used :n` and expired by
 * TTL (`expiresAt`) about three days after the day began. Organizations sharing a key share the item.
 */
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../store/table.ts';
import { assertDay, assertRequests, type QuotaStore } from './budget.ts';

/** How long a day's counter is kept after the day began (seconds). */
export const QUOTA_TTL_SECONDS = 3 * 24 * 60 * 60;

export function quotaPk(apiKeyId: string): string {
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(apiKeyId)) {
    // Refuse anything that does not look like a derived id, so a raw key is never written as a key.
    throw new RangeError('apiKeyId must be the derived id from apiKeyId(apiKey), not a raw value');
  }
  return `QUOTA#${apiKeyId}`;
}

export function quotaSk(day: string): string {
  assertDay(day);
  return `DAY#${day}`;
}

export interface DynamoQuotaStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

export class DynamoQuotaStore implements QuotaStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  constructor(options: DynamoQuotaStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  async consume(apiKeyId: string, day: string, requests: number): Promise<number> {
    assertRequests(requests);
    const key = { [TABLE_KEYS.partitionKey]: quotaPk(apiKeyId), [TABLE_KEYS.sortKey]: quotaSk(day) };
    const expiresAt = Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000) + QUOTA_TTL_SECONDS;
    const out = await this.#client.send(
      new UpdateCommand({
        TableName: this.#tableName,
        Key: key,
        UpdateExpression: 'SET #exp = if_not_exists(#exp, :exp) ADD #used :n',
        ExpressionAttributeNames: { '#used': 'used', '#exp': TABLE_KEYS.timeToLive },
        ExpressionAttributeValues: { ':n': requests, ':exp': expiresAt },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const used = out.Attributes?.used;
    if (typeof used !== 'number') {
      throw new Error(`quota counter ${quotaSk(day)} came back without a numeric "used" attribute`);
    }
    return used;
  }

  async used(apiKeyId: string, day: string): Promise<number> {
    const out = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: { [TABLE_KEYS.partitionKey]: quotaPk(apiKeyId), [TABLE_KEYS.sortKey]: quotaSk(day) },
        ConsistentRead: true,
        ProjectionExpression: '#used',
        ExpressionAttributeNames: { '#used': 'used' },
      }),
    );
    const used = out.Item?.used;
    return typeof used === 'number' ? used : 0;
  }
}
