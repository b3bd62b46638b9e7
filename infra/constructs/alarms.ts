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

/** Fires as soon as a queue that should stay empty (a dead-letter queue) holds a message. */
export function queueNotEmptyAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  props: { readonly alarmName: string; readonly alarmDescription: string },
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
