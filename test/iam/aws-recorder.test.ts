/**
 * The recording AWS stand-in records each request as IAM authorizes it: transactions item by item, batches
 * as their single actions, resources as full ARNs (a secret read by name, a queue by URL), condition keys
 * from the request, over the JSON and the query protocols.
 */
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTable } from '../../shared/store/create-table.ts';
import { type LocalDynamo, startLocalDynamo } from '../../shared/store/local-dynamo.ts';
import { TABLE_KEYS } from '../../shared/store/table.ts';
import { type AwsRecorder, startAwsRecorder } from '../support/aws-recorder.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:team/api-key-AbCdEf';
const QUEUE = 'https://sqs.us-east-1.amazonaws.com/123456789012/work';
const TABLE = 'arn:aws:dynamodb:us-east-1:123456789012:table/things';
const item = (pk: string, sk: string) => ({
  [TABLE_KEYS.partitionKey]: { S: pk },
  [TABLE_KEYS.sortKey]: { S: sk },
});

describe('the recording AWS stand-in', () => {
  let dynamo: LocalDynamo;
  let recorder: AwsRecorder;
  const client = () => ({
    region: 'us-east-1',
    endpoint: recorder.endpoint,
    credentials: { accessKeyId: 'AKIDUNITTEST', secretAccessKey: 'local-only' },
  });

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    await createTable(dynamo.client, 'things');
    recorder = await startAwsRecorder({
      dynamodbEndpoint: dynamo.endpoint,
      partitionKey: TABLE_KEYS.partitionKey,
      secrets: [{ arn: SECRET_ARN, value: 'hello' }],
      eventSourceMappings: [],
    });
  });

  afterAll(async () => {
    await recorder?.close();
    await dynamo?.close();
  });

  const since = (start: number) =>
    recorder.calls.slice(start).map(({ action, resource, context }) => ({ action, resource, context }));

  it('authorizes a batch once per table with every partition key it touches, and proxies it to DynamoDB', async () => {
    const start = recorder.calls.length;
    const ddb = new DynamoDBClient(client());
    await ddb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          things: [{ PutRequest: { Item: item('A#1', 'x') } }, { PutRequest: { Item: item('B#2', 'y') } }],
        },
      }),
    );
    const queried = await ddb.send(
      new QueryCommand({
        TableName: 'things',
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': TABLE_KEYS.partitionKey },
        ExpressionAttributeValues: { ':v': { S: 'A#1' } },
      }),
    );
    expect(queried.Items).toHaveLength(1);
    expect(since(start)).toEqual([
      {
        action: 'dynamodb:BatchWriteItem',
        resource: TABLE,
        context: { 'dynamodb:LeadingKeys': ['A#1', 'B#2'] },
      },
      { action: 'dynamodb:Query', resource: TABLE, context: { 'dynamodb:LeadingKeys': ['A#1'] } },
    ]);
    expect(new Set(recorder.calls.slice(start).map((c) => c.caller))).toEqual(new Set(['AKIDUNITTEST']));
  });

  it("authorizes a transaction item by item, by each item's own action (dynalite itself runs no transactions)", async () => {
    const start = recorder.calls.length;
    const transaction = new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'things', Item: item('A#1', 'z') } },
        {
          ConditionCheck: {
            TableName: 'things',
            Key: item('C#3', 'w'),
            ConditionExpression: 'attribute_not_exists(sk)',
          },
        },
      ],
    });
    await expect(new DynamoDBClient(client()).send(transaction)).rejects.toThrow();
    expect(since(start)).toEqual([
      { action: 'dynamodb:PutItem', resource: TABLE, context: { 'dynamodb:LeadingKeys': ['A#1'] } },
      {
        action: 'dynamodb:ConditionCheckItem',
        resource: TABLE,
        context: { 'dynamodb:LeadingKeys': ['C#3'] },
      },
    ]);
  });

  it("resolves a secret read by name to its full ARN, and a queue URL to the queue's ARN (JSON protocol)", async () => {
    const start = recorder.calls.length;
    const secret = await new SecretsManagerClient(client()).send(
      new GetSecretValueCommand({ SecretId: 'team/api-key' }),
    );
    expect(secret.SecretString).toBe('hello');
    await new SQSClient({ ...client(), useQueueUrlAsEndpoint: false }).send(
      new SendMessageBatchCommand({
        QueueUrl: QUEUE,
        Entries: [
          { Id: '1', MessageBody: 'a' },
          { Id: '2', MessageBody: 'b' },
        ],
      }),
    );
    expect(since(start)).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: SECRET_ARN, context: {} },
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:123456789012:work', context: {} },
    ]);
  });

  it('records an SQS query-protocol request and answers it in XML', async () => {
    const start = recorder.calls.length;
    const response = await fetch(recorder.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDQUERY/20261129/us-east-1/sqs/aws4_request, Signature=0',
      },
      body: new URLSearchParams({ Action: 'SendMessage', QueueUrl: QUEUE, MessageBody: 'hi' }).toString(),
    });
    expect(await response.text()).toMatch(
      /<SendMessageResponse.*<MD5OfMessageBody>49f68a5c8493ec2c0bf489821c21fc3b</,
    );
    expect(recorder.calls.slice(start)).toEqual([
      {
        caller: 'AKIDQUERY',
        action: 'sqs:SendMessage',
        resource: 'arn:aws:sqs:us-east-1:123456789012:work',
        context: {},
      },
    ]);
  });

  it('authorizes PutEvents once per bus, with the lists of the entries sources and detail types', async () => {
    const start = recorder.calls.length;
    await new EventBridgeClient(client()).send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'orders', Source: 'a', DetailType: 'X', Detail: '{}' },
          { EventBusName: 'orders', Source: 'b', DetailType: 'Y', Detail: '{}' },
          { Source: 'c', DetailType: 'Z', Detail: '{}' },
        ],
      }),
    );
    expect(since(start)).toEqual([
      {
        action: 'events:PutEvents',
        resource: 'arn:aws:events:us-east-1:123456789012:event-bus/orders',
        context: { 'events:source': ['a', 'b'], 'events:detail-type': ['X', 'Y'] },
      },
      {
        action: 'events:PutEvents',
        resource: 'arn:aws:events:us-east-1:123456789012:event-bus/default',
        context: { 'events:source': ['c'], 'events:detail-type': ['Z'] },
      },
    ]);
  });

  it('answers a denied request with AccessDenied in each service protocol, and does not carry it out', async () => {
    const denying = await startAwsRecorder({
      dynamodbEndpoint: dynamo.endpoint,
      partitionKey: TABLE_KEYS.partitionKey,
      secrets: [{ arn: SECRET_ARN, value: 'hello' }],
      eventSourceMappings: [],
      authorize: async (calls) => `not authorized to perform: ${calls.map((c) => c.action).join(', ')}`,
    });
    const options = { ...client(), endpoint: denying.endpoint };
    try {
      const attempts = [
        new DynamoDBClient(options).send(new GetItemCommand({ TableName: 'things', Key: item('A#1', 'x') })),
        new SecretsManagerClient(options).send(new GetSecretValueCommand({ SecretId: SECRET_ARN })),
        new SQSClient({ ...options, useQueueUrlAsEndpoint: false }).send(
          new SendMessageCommand({ QueueUrl: QUEUE, MessageBody: 'x' }),
        ),
        new LambdaClient(options).send(
          new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event' }),
        ),
      ];
      for (const outcome of await Promise.allSettled(attempts)) {
        expect(outcome).toMatchObject({ status: 'rejected', reason: { name: 'AccessDeniedException' } });
      }
      expect(denying.calls.map((c) => c.action).sort()).toEqual([
        'dynamodb:GetItem',
        'lambda:InvokeFunction',
        'secretsmanager:GetSecretValue',
        'sqs:SendMessage',
      ]);
      expect(denying.messages).toEqual([]);
      expect(denying.invocations).toEqual([]);
    } finally {
      await denying.close();
    }
  });

  it('answers a service it does not serve with an error and lists the request as unsupported', async () => {
    expect(recorder.unsupported).toEqual([]);
    const response = await fetch(recorder.endpoint, {
      method: 'POST',
      headers: {
        'x-amz-target': 'Kinesis_20131202.PutRecord',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDX/20261129/us-east-1/kinesis/aws4_request, Signature=0',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(recorder.unsupported).toEqual([
      expect.stringContaining('kinesis POST / Kinesis_20131202.PutRecord'),
    ]);
  });
});
