/** Alarms the stack and its constructs share. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * Every alarm of an environment (stack, sync rules, webhooks) is named with this prefix: the alarm topic
 * lets CloudWatch publish for alarms matching it (`aws:SourceArn`).
 */
export function alarmNamePrefix(environmentName: string): string {
  return `nutcache-cdc-${environmentName}-`;
}

/** What an alarm of the project says: its name (see {@link alarmNamePrefix}) and description. */
export interface AlarmText {
  readonly alarmName: string;
  readonly alarmDescription: string;
}

/**
 * Fires when `metric` reaches `threshold` (default 1) in one period; no data means nothing happened (OK).
 * For counts of failures and of events that need a look.
 */
export function atLeastAlarm(
  scope: Construct,
  id: string,
  props: AlarmText & { readonly metric: cloudwatch.IMetric; readonly threshold?: number },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    threshold: props.threshold ?? 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** Fires as soon as a queue that should stay empty (a dead-letter queue) holds a message. */
export function queueNotEmptyAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  props: AlarmText,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
