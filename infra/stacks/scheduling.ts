/**
 * What every organization's schedule shares: the synth-time check of the schedules against the daily
 * request budget, the schedule group and the one role the schedules assume.
 */
import { Annotations, RemovalPolicy, type Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { checkScheduleBudget } from '../../shared/quota/schedule-check.ts';
import type { NutcacheCdcConfig } from '../config.ts';
import { onlyForResource } from '../constructs/conditions.ts';

export interface Scheduling {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** May invoke only the poller and write only to the poll-failure queue (the schedules' grants). */
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

export function createScheduling(stack: Stack, environmentName: string): Scheduling {
  // Deleted with the stack (its default is to be retained): a retained group keeps its fixed name and
  // blocks the next deploy of the same environment.
  const scheduleGroup = new scheduler.ScheduleGroup(stack, 'ScheduleGroup', {
    scheduleGroupName: `nutcache-cdc-${environmentName}`,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // One role for every schedule: it may invoke only the poller and write only to the poll-failure queue.
  const schedulerRole = new iam.Role(stack, 'SchedulerRole', {
    description: 'Assumed by EventBridge Scheduler to invoke the nutcache-cdc poller',
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: onlyForResource(stack.account, scheduleGroup.scheduleGroupArn),
    }),
  });
  return { scheduleGroup, schedulerRole };
}

/**
 * A schedule created before its role may invoke the poller fails its first invocations: every schedule
 * depends on the role's policy (which the schedules' targets filled in).
 */
export function schedulesAfterRolePolicy(
  stack: Stack,
  scheduling: Scheduling,
  schedules: readonly scheduler.Schedule[],
  poller: lambda.IFunction,
): void {
  const schedulerPolicy = scheduling.schedulerRole.node.tryFindChild('DefaultPolicy');
  if (!schedulerPolicy) return;
  for (const schedule of schedules) schedule.node.addDependency(schedulerPolicy);
  const pollerLogicalId = stack.resolve(stack.getLogicalId(poller.node.defaultChild as lambda.CfnFunction));
  Validations.of(schedulerPolicy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${pollerLogicalId}.Arn>:*]`,
    reason:
      "Scheduler's Lambda target grants lambda:InvokeFunction on the poller and its versions/aliases (ARN:*); it names this one function only.",
  });
}
