/**
 * An organization's polling resources: its credentials secret (created before the poller, which is granted
 * it), then its schedule and its stale alarm (created after the poller, which they target and watch). They
 * are created directly in the stack, with the construct ids `<OrgId>Secret`, `<OrgId>Schedule` and
 * `<OrgId>StaleAlarm`: their logical ids, hence the deployed resources, depend on those paths.
 */
import { Duration, type Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { OrganizationConfig } from '../config.ts';
import { alarmNamePrefix } from '../constructs/alarms.ts';
import { importSecret } from '../constructs/imported-secret.ts';
import type { PollerMetricName, PollerMetrics } from '../constructs/poller-metrics.ts';

/** Scheduler retries of an invocation Lambda did not accept (throttled, service error). */
const SCHEDULE_RETRY_ATTEMPTS = 3;

/** A construct-id-safe form of a GUID. */
export function organizationId(guid: string): string {
  return `Org${guid.replace(/-/g, '').toUpperCase()}`;
}

/** An organization's credentials secret. */
export interface OrganizationSecret {
  readonly org: OrganizationConfig;
  readonly secret: secretsmanager.ISecret;
  /** True when the stack created the secret (its value must then be put once after the first deploy). */
  readonly created: boolean;
}

/** Everything the stack created (or imported) for one Nutcache organization. */
export interface OrganizationResources {
  readonly config: OrganizationConfig;
  readonly secret: secretsmanager.ISecret;
  /** True when the stack created the secret (its value must then be put once after the first deploy). */
  readonly secretCreated: boolean;
  readonly schedule: scheduler.Schedule;
  readonly staleAlarm: cloudwatch.Alarm;
}

/** What every organization's schedule and stale alarm share. */
export interface PollingContext {
  readonly environmentName: string;
  readonly poller: lambda.IFunction;
  readonly scheduleGroup: scheduler.IScheduleGroup;
  /** The role every schedule assumes. */
  readonly schedulerRole: iam.IRole;
  /** Where an invocation that failed every attempt goes. */
  readonly pollFailureQueue: sqs.IQueue;
  readonly pollerMetrics: PollerMetrics;
  readonly staleAfterIntervals: number;
  /** Registers an alarm with the stack (alarm list, alarm topic). */
  readonly addAlarm: (alarm: cloudwatch.Alarm) => cloudwatch.Alarm;
}

/** The organization's secret: created with an empty template (no credential in the template), or imported. */
export function organizationSecret(stack: Stack, org: OrganizationConfig, env: string): OrganizationSecret {
  const id = `${organizationId(org.organizationGuid)}Secret`;
  if (org.secret.type === 'import')
    return { org, secret: importSecret(stack, id, org.secret), created: false };
  const secret = new secretsmanager.Secret(stack, id, {
    description: `Nutcache API credentials of organization ${org.organizationGuid} (nutcache-cdc ${env}). Put {"apiKey","username","password","organizationGuid"} with aws secretsmanager put-secret-value.`,
    // No credential in code or template: only the organization GUID and empty fields are templated;
    // Secrets Manager fills `placeholder` with random characters because a generated key is required.
    generateSecretString: {
      secretStringTemplate: JSON.stringify({
        apiKey: '',
        username: '',
        password: '',
        organizationGuid: org.organizationGuid,
      }),
      generateStringKey: 'placeholder',
      excludePunctuation: true,
    },
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'Nutcache API keys and passwords are issued by Nutcache, which offers no API to rotate them; an operator rotates them with put-secret-value (see docs/deploy.md).',
  });
  return { org, secret, created: true };
}

/** The organization's schedule and stale alarm, next to its secret. */
export function addOrganizationPolling(
  stack: Stack,
  { org, secret, created }: OrganizationSecret,
  context: PollingContext,
): OrganizationResources {
  const schedule = organizationSchedule(stack, org, context);
  const staleAlarm = context.addAlarm(organizationStaleAlarm(stack, org, context));
  return { config: org, secret, secretCreated: created, schedule, staleAlarm };
}

/** Invokes the poller with `{organizationGuid}` every `scheduleRateMinutes`. */
function organizationSchedule(
  stack: Stack,
  org: OrganizationConfig,
  context: PollingContext,
): scheduler.Schedule {
  const rate = Duration.minutes(org.scheduleRateMinutes);
  return new scheduler.Schedule(stack, `${organizationId(org.organizationGuid)}Schedule`, {
    description: `Poll Nutcache organization ${org.label ?? org.organizationGuid} every ${org.scheduleRateMinutes} min`,
    schedule: scheduler.ScheduleExpression.rate(rate),
    scheduleGroup: context.scheduleGroup,
    target: new schedulerTargets.LambdaInvoke(context.poller, {
      role: context.schedulerRole,
      input: scheduler.ScheduleTargetInput.fromObject({ organizationGuid: org.organizationGuid }),
      retryAttempts: SCHEDULE_RETRY_ATTEMPTS,
      // An invocation older than one interval is superseded by the next scheduled one.
      maxEventAge: Duration.seconds(Math.max(60, rate.toSeconds())),
      deadLetterQueue: context.pollFailureQueue,
    }),
  });
}

/**
 * Fires when an organization had no successful poll for `staleAfterIntervals` intervals. A poll deferred
 * on purpose (quota back-off) or skipped because the organization's secret is not filled in yet counts
 * as a sign of life: neither is a failure (their own metrics and logs tell them apart).
 */
function organizationStaleAlarm(
  stack: Stack,
  org: OrganizationConfig,
  context: PollingContext,
): cloudwatch.Alarm {
  const rate = Duration.minutes(org.scheduleRateMinutes);
  const intervals = context.staleAfterIntervals;
  const metric = (name: PollerMetricName) =>
    context.pollerMetrics.organizationMetric(name, org.organizationGuid, { period: rate });
  return new cloudwatch.Alarm(stack, `${organizationId(org.organizationGuid)}StaleAlarm`, {
    alarmName: `${alarmNamePrefix(context.environmentName)}stale-${org.organizationGuid}`,
    alarmDescription: `No successful poll of Nutcache organization ${org.label ?? org.organizationGuid} for ${intervals} intervals of ${org.scheduleRateMinutes} min (deferred and unconfigured polls do not count as failures).`,
    metric: new cloudwatch.MathExpression({
      expression: 'FILL(succeeded, 0) + FILL(deferred, 0) + FILL(unconfigured, 0)',
      usingMetrics: {
        succeeded: metric('PollSucceeded'),
        deferred: metric('PollDeferred'),
        unconfigured: metric('PollUnconfigured'),
      },
      period: rate,
      label: 'Polls that ended as expected',
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: intervals,
    datapointsToAlarm: intervals,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
}
