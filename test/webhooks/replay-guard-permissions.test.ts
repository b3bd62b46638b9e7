/**
 * The sync-now function may only PutItem/DeleteItem `WEBHOOK#…` items (SyncNowEndpoint's IAM grant): the
 * replay guard must need nothing more.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { REPLAY_GUARD_ACTIONS } from '../../infra/constructs/sync-now-endpoint.ts';
import { DynamoDbReplayGuard } from '../../shared/webhooks/replay-guard.ts';

describe('replay guard permissions', () => {
  it('claims and releases ids with only the calls the sync-now role is granted, on WEBHOOK# items', async () => {
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    const mock = mockClient(documents);
    mock
      .on(PutCommand)
      .resolvesOnce({})
      .rejects(Object.assign(new Error('taken'), { name: 'ConditionalCheckFailedException' }));
    mock.on(DeleteCommand).resolves({});
    const guard = new DynamoDbReplayGuard(documents, 'table');
    expect(await guard.claim('msg-1', 2_000, 1_000)).toBe(true);
    expect(await guard.claim('msg-1', 2_000, 1_000)).toBe(false);
    await guard.release('msg-1');

    const actionOf: Record<string, string> = {
      PutCommand: 'dynamodb:PutItem',
      DeleteCommand: 'dynamodb:DeleteItem',
    };
    const calls = mock.calls();
    expect(calls).toHaveLength(3);
    const used = new Set(
      calls.map((call) => actionOf[call.args[0].constructor.name] ?? call.args[0].constructor.name),
    );
    expect([...used].sort()).toEqual([...REPLAY_GUARD_ACTIONS].sort());
    for (const call of calls) {
      const input = call.args[0].input as { Item?: { pk?: string }; Key?: { pk?: string } };
      expect(input.Item?.pk ?? input.Key?.pk).toMatch(/^WEBHOOK#/);
    }
  });
});
