/**
 * The Scheduler API calls of the registry: one EventBridge Scheduler schedule per organization, `org-<GUID>`
 * in the deployment's schedule group, that sends `{"organizationGuid"}` to the FIFO poll queue every
 * `everyMinutes` (docs/organizations.md, "Scheduling"):
 *
 * - `rate(N minutes)` with a FLEXIBLE window of `max(1, floor(N / 20))` minutes: AWS spreads the fires of
 *   many organizations over that window, so each is polled within its interval + 5% (a tenth measured
 *   99.55% on time in the scale bench, 98.31% with a 5 s pick-up; a twentieth 100%, docs/performance.md);
 * - `MessageGroupId` = the API-key group: polls that share a key are delivered one at a time;
 * - the input carries the fire's scheduled time, so a retried delivery of one fire has the same body and
 *   the queue's content-based deduplication drops it, while two fires always differ;
 * - retries (3, no older than one interval) and a dead-letter queue, as the stack's schedules had;
 * - ENABLED when the organization is active, DISABLED when paused.
 * Used by the CLI (`orgs`) and by the deploy-time registrar.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { DeploymentRecord } from './deployment.ts';
import type { RegisteredOrganization } from './model.ts';

export const SCHEDULE_RETRY_ATTEMPTS = 3;
/** Scheduler's limits on a target's event age (seconds). */
const MIN_EVENT_AGE_SECONDS = 60;
const MAX_EVENT_AGE_SECONDS = 86_400;

/** `org-<GUID>` (40 characters; Scheduler allows 64). */
export function scheduleName(organizationGuid: string): string {
  return `org-${organizationGuid.toUpperCase()}`;
}

/** The flexible window: 5% of the interval, at least one minute (Scheduler's minimum). */
export function flexibleWindowMinutes(everyMinutes: number): number {
  return Math.max(1, Math.floor(everyMinutes / 20));
}

/** The poll request a fire sends; `<aws.scheduler.scheduled-time>` is filled in by Scheduler. */
export function scheduleTargetInput(organizationGuid: string): string {
  return JSON.stringify({
    organizationGuid: organizationGuid.toUpperCase(),
    scheduledTime: '<aws.scheduler.scheduled-time>',
  });
}

type ScheduledOrganization = Pick<
  RegisteredOrganization,
  'organizationGuid' | 'everyMinutes' | 'apiKeyGroup' | 'state' | 'label'
>;

/** The complete CreateSchedule (and UpdateSchedule: it replaces every field) input of an organization. */
export function scheduleInput(
  org: ScheduledOrganization,
  deployment: DeploymentRecord,
): CreateScheduleCommandInput {
  const intervalSeconds = org.everyMinutes * 60;
  return {
    Name: scheduleName(org.organizationGuid),
    GroupName: deployment.scheduleGroupName,
    Description: `Poll Nutcache organization ${org.label ?? org.organizationGuid} every ${org.everyMinutes} min`,
    ScheduleExpression: `rate(${org.everyMinutes} ${org.everyMinutes === 1 ? 'minute' : 'minutes'})`,
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: flexibleWindowMinutes(org.everyMinutes) },
    State: org.state === 'active' ? 'ENABLED' : 'DISABLED',
    Target: {
      Arn: deployment.pollQueueArn,
      RoleArn: deployment.schedulerRoleArn,
      Input: scheduleTargetInput(org.organizationGuid),
      SqsParameters: { MessageGroupId: org.apiKeyGroup },
      RetryPolicy: {
        MaximumRetryAttempts: SCHEDULE_RETRY_ATTEMPTS,
        // A fire older than one interval is superseded by the next one.
        MaximumEventAgeInSeconds: Math.min(
          MAX_EVENT_AGE_SECONDS,
          Math.max(MIN_EVENT_AGE_SECONDS, intervalSeconds),
        ),
      },
      DeadLetterConfig: { Arn: deployment.scheduleDeadLetterQueueArn },
    },
  };
}

/** Creates the organization's schedule, or replaces it when it exists; returns which. */
export async function ensureSchedule(
  client: SchedulerClient,
  org: ScheduledOrganization,
  deployment: DeploymentRecord,
): Promise<'created' | 'updated'> {
  const input = scheduleInput(org, deployment);
  try {
    await client.send(new CreateScheduleCommand(input));
    return 'created';
  } catch (error) {
    if (!(error instanceof ConflictException)) throw error;
  }
  await client.send(new UpdateScheduleCommand(input));
  return 'updated';
}

/** ENABLED (active) or DISABLED (paused): the schedule is replaced with the other state. */
export async function setScheduleState(
  client: SchedulerClient,
  org: ScheduledOrganization,
  deployment: DeploymentRecord,
  state: 'ENABLED' | 'DISABLED',
): Promise<void> {
  await ensureSchedule(client, { ...org, state: state === 'ENABLED' ? 'active' : 'paused' }, deployment);
}

/** Deletes the organization's schedule; false when there was none. */
export async function deleteSchedule(
  client: SchedulerClient,
  organizationGuid: string,
  deployment: DeploymentRecord,
): Promise<boolean> {
  try {
    await client.send(
      new DeleteScheduleCommand({
        Name: scheduleName(organizationGuid),
        GroupName: deployment.scheduleGroupName,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}
