/**
 * What every organization's schedule shares: the synth-time check of the configured organizations against
 * the daily request budget, the schedule group and the one role the schedules assume. The schedules
 * themselves are data: created through the Scheduler API at onboarding (`orgs add`) or by the registrar at
 * deploy (config organizations), in this group, with this role (shared/registry/schedules.ts).
 */
import { Annotations, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { checkScheduleBudget } from '../../shared/quota/schedule-check.ts';
import type { NutcacheCdcConfig } from '../config.ts';
import { onlyForResource } from '../constructs/conditions.ts';

export interface Scheduling {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** May send only to the poll queue and to the poll-failure queue (the schedules' dead-letter queue). */
  readonly schedulerRole: iam.Role;
}

/** A schedule that cannot fit its API key's daily budget is reported at synth (docs/quota.md). */
export function warnAboutScheduleBudgets(stack: Stack, config: NutcacheCdcConfig): void {
  const warnings = checkScheduleBudget(
    config.organizations.map((org) => ({
      organizationGuid: org.organizationGuid,
      rateMinutes: org.scheduleRateMinutes,
      expectedCustomers: org.expectedCustomers ?? 0,
      apiKeyGroup: org.apiKeyGroup,
    })),
    config.dailyRequestBudget,
  );
  for (const warning of warnings) Annotations.of(stack).addWarningV2('nutcache-cdc:quota', warning.message);
}

/** The schedule group name of an environment: `nutcache-cdc-<environment>`. */
export function scheduleGroupName(environmentName: string): string {
  return `nutcache-cdc-${environmentName}`;
}

export function createScheduling(
  stack: Stack,
  environmentName: string,
  queues: { readonly pollQueue: sqs.IQueue; readonly pollFailureQueue: sqs.IQueue },
): Scheduling {
  // Deleted with the stack (its default is to be retained): a retained group keeps its fixed name and
  // blocks the next deploy of the same environment. Deleting a group deletes its schedules.
  const scheduleGroup = new scheduler.ScheduleGroup(stack, 'ScheduleGroup', {
    scheduleGroupName: scheduleGroupName(environmentName),
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // One role for every schedule of the group (only schedules of this group may assume it).
  const schedulerRole = new iam.Role(stack, 'SchedulerRole', {
    description: 'Assumed by EventBridge Scheduler to send poll messages to the nutcache-cdc poll queue',
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: onlyForResource(stack.account, scheduleGroup.scheduleGroupArn),
    }),
  });
  queues.pollQueue.grantSendMessages(schedulerRole);
  queues.pollFailureQueue.grantSendMessages(schedulerRole);
  return { scheduleGroup, schedulerRole };
}
