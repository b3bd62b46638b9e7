/** The subscription switch (the delivery function's SQS event source mapping), against a mocked Lambda API. */
import {
  LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Log } from '../../shared/ports.ts';
import { EventSourceMappingSwitch } from '../../shared/webhooks/aws-adapters.ts';

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };
const lambda = mockClient(LambdaClient);
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:webhook';

function newSwitch() {
  return new EventSourceMappingSwitch(
    new LambdaClient({ region: 'eu-west-1' }),
    'delivery',
    QUEUE_ARN,
    silent,
  );
}

beforeEach(() => {
  lambda.reset();
  lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [{ UUID: 'esm-1' }] });
});

describe('event source mapping switch', () => {
  it('disables the mapping on the subscription queue and then reports the subscription off', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    const subscription = newSwitch();
    await subscription.disable('endpoint answered 410 Gone');
    expect(subscription.disabled).toBe(true);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      UUID: 'esm-1',
      Enabled: false,
    });
  });

  it('stays on when the mapping could not be disabled, and the next 410 tries again', async () => {
    lambda
      .on(UpdateEventSourceMappingCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves({});
    const subscription = newSwitch();
    await expect(subscription.disable('endpoint answered 410 Gone')).rejects.toThrow(/Rate exceeded/);
    expect(subscription.disabled).toBe(false);
    await subscription.disable('endpoint answered 410 Gone');
    expect(subscription.disabled).toBe(true);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(2);
  });

  it('stays on when the mappings cannot be listed', async () => {
    lambda.on(ListEventSourceMappingsCommand).rejects(new Error('AccessDenied'));
    const subscription = newSwitch();
    await expect(subscription.disable('endpoint answered 410 Gone')).rejects.toThrow(/AccessDenied/);
    expect(subscription.disabled).toBe(false);
  });

  it('disables once for several 410s of one batch', async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    const subscription = newSwitch();
    await Promise.all([1, 2, 3].map(() => subscription.disable('endpoint answered 410 Gone')));
    expect(subscription.disabled).toBe(true);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)).toHaveLength(1);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(1);
  });
});
