/**
 * Replay protection for inbound webhooks: each `webhook-id` is accepted once. The DynamoDB adapter keeps
 * claimed ids in the project's single table (`pk = WEBHOOK#<id>`, `sk = INBOUND`, `expiresAt` for TTL) with a
 * conditional put, so two concurrent deliveries of the same id cannot both win.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEYS } from '../store/table.ts';

export interface ReplayGuard {
  /** Claims `id` until `expiresAtSeconds` (epoch seconds). False when it was already claimed. */
  claim(id: string, expiresAtSeconds: number, nowSeconds: number): Promise<boolean>;
  /** Gives a claimed id back (the request it came with could not be carried out, so a retry must pass). */
  release(id: string): Promise<void>;
}

export class InMemoryReplayGuard implements ReplayGuard {
  private readonly claimed = new Map<string, number>();

  async claim(id: string, expiresAtSeconds: number, nowSeconds: number): Promise<boolean> {
    const existing = this.claimed.get(id);
    if (existing !== undefined && existing > nowSeconds) return false;
    this.claimed.set(id, expiresAtSeconds);
    return true;
  }

  async release(id: string): Promise<void> {
    this.claimed.delete(id);
  }
}

export const INBOUND_WEBHOOK_SK = 'INBOUND';
export const inboundWebhookPk = (id: string) => `WEBHOOK#${id}`;

export class DynamoDbReplayGuard implements ReplayGuard {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async claim(id: string, expiresAtSeconds: number, nowSeconds: number): Promise<boolean> {
    const { partitionKey: pk, sortKey: sk, timeToLive: ttl } = TABLE_KEYS;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [pk]: inboundWebhookPk(id), [sk]: INBOUND_WEBHOOK_SK, [ttl]: expiresAtSeconds },
          // TTL deletion is lazy: an expired item that is still there does not count as a claim.
          ConditionExpression: 'attribute_not_exists(#pk) OR #ttl < :now',
          ExpressionAttributeNames: { '#pk': pk, '#ttl': ttl },
          ExpressionAttributeValues: { ':now': nowSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      if (error instanceof Error && error.name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async release(id: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [TABLE_KEYS.partitionKey]: inboundWebhookPk(id), [TABLE_KEYS.sortKey]: INBOUND_WEBHOOK_SK },
      }),
    );
  }
}
