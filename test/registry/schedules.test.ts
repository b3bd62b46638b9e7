/** The Scheduler API calls of the registry, against aws-sdk-client-mock: the exact inputs AWS receives. */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  deleteSchedule,
  ensureSchedule,
  flexibleWindowMinutes,
  scheduleInput,
  setScheduleState,
} from '../../shared/registry/schedules.ts';
import { deploymentRecord, guid, organization } from './helpers.ts';

const client = new SchedulerClient({ region: 'eu-west-1' });
const scheduler = mockClient(client);
const deployment = deploymentRecord();

beforeEach(() => scheduler.reset());

/** Scheduler as it answers for a schedule that exists: CreateSchedule conflicts, UpdateSchedule works. */
function scheduleExists(): void {
  scheduler
    .on(CreateScheduleCommand)
    .rejects(new ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
  scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
}

describe('scheduleInput', () => {
  it('builds one schedule per organization: rate, 5% flexible window, FIFO group, retries, DLQ', () => {
    const org = organization(1, { everyMinutes: 30, apiKeyGroup: 'k-shared', label: 'Acme' });
    expect(scheduleInput(org, deployment)).toEqual({
      Name: `org-${guid(1).toUpperCase()}`,
      GroupName: 'nutcache-cdc-prod',
      Description: 'Poll Nutcache organization Acme every 30 min',
      ScheduleExpression: 'rate(30 minutes)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1 },
      State: 'ENABLED',
      Target: {
        Arn: deployment.pollQueueArn,
        RoleArn: deployment.schedulerRoleArn,
        Input: `{"organizationGuid":"${guid(1).toUpperCase()}","scheduledTime":"<aws.scheduler.scheduled-time>"}`,
        SqsParameters: { MessageGroupId: 'k-shared' },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 1800 },
        DeadLetterConfig: { Arn: deployment.scheduleDeadLetterQueueArn },
      },
    });
  });

  it('keeps the window within +5% of the interval (the bench’s on-time target), at least Scheduler’s one minute', () => {
    expect([1, 5, 15, 20, 39, 40, 60, 1440].map(flexibleWindowMinutes)).toEqual([1, 1, 1, 1, 1, 2, 3, 72]);
    for (const every of [20, 40, 60, 1440])
      expect(flexibleWindowMinutes(every) / every).toBeLessThanOrEqual(0.05);
    const one = scheduleInput(organization(2, { everyMinutes: 1 }), deployment);
    expect(one.ScheduleExpression).toBe('rate(1 minute)');
    expect(one.Target?.RetryPolicy?.MaximumEventAgeInSeconds).toBe(60);
    const day = scheduleInput(organization(2, { everyMinutes: 1440 }), deployment);
    expect(day.Target?.RetryPolicy?.MaximumEventAgeInSeconds).toBe(86_400);
  });

  it('disables the schedule of a paused organization', () => {
    expect(scheduleInput(organization(3, { state: 'paused' }), deployment).State).toBe('DISABLED');
  });
});

describe('ensureSchedule / setScheduleState / deleteSchedule', () => {
  it('creates a schedule that does not exist yet', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    const org = organization(4);
    expect(await ensureSchedule(client, org, deployment)).toBe('created');
    expect(scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input)).toEqual([
      scheduleInput(org, deployment),
    ]);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
  });

  it('replaces an existing schedule with the full input (UpdateSchedule replaces every field)', async () => {
    scheduleExists();
    const org = organization(5, { everyMinutes: 60 });
    expect(await ensureSchedule(client, org, deployment)).toBe('updated');
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input).toEqual(
      scheduleInput(org, deployment),
    );
  });

  it('pauses and resumes by flipping the state, every other field kept', async () => {
    scheduleExists();
    const org = organization(6, { everyMinutes: 20 });
    await setScheduleState(client, org, deployment, 'DISABLED');
    await setScheduleState(client, org, deployment, 'ENABLED');
    const [paused, resumed] = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
    expect(paused).toEqual({ ...scheduleInput(org, deployment), State: 'DISABLED' });
    expect(resumed).toEqual({ ...scheduleInput(org, deployment), State: 'ENABLED' });
  });

  it('deletes the schedule in the deployment’s group, and tolerates one already gone', async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .resolvesOnce({})
      .rejectsOnce(new ResourceNotFoundException({ message: 'gone', Message: 'gone', $metadata: {} }));
    expect(await deleteSchedule(client, guid(7), deployment)).toBe(true);
    expect(await deleteSchedule(client, guid(7), deployment)).toBe(false);
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]?.args[0].input).toEqual({
      Name: `org-${guid(7).toUpperCase()}`,
      GroupName: 'nutcache-cdc-prod',
    });
  });

  it('lets any other Scheduler error through', async () => {
    scheduler.on(CreateScheduleCommand).rejects(new Error('ValidationException: bad role'));
    await expect(ensureSchedule(client, organization(8), deployment)).rejects.toThrow(/bad role/);
  });
});
